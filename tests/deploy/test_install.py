"""`cleavr-mcp install`: merge into an existing client config with a backup, idempotently; `--print` snippets."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cleavr_mcp.cli import main
from cleavr_mcp.commands.install import claude_desktop_config_path, merge_server, server_command, server_entry

EXISTING = {
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me"]},
        "github": {"command": "docker", "args": ["run", "-i", "ghcr.io/github/github-mcp-server"],
                   "env": {"GITHUB_TOKEN": "ghp_keep_me"}},
    },
}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(EXISTING, indent=2))
    path.chmod(0o600)
    return path


def backups(path):
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


def test_install_merges_keeps_others_and_backs_up(config, capsys):
    original = config.read_text()
    assert main(["install", "claude-desktop", "--config", str(config)]) == 0
    merged = json.loads(config.read_text())
    assert merged["globalShortcut"] == "Ctrl+Space"
    assert merged["mcpServers"]["filesystem"] == EXISTING["mcpServers"]["filesystem"]
    assert merged["mcpServers"]["github"] == EXISTING["mcpServers"]["github"]
    entry = merged["mcpServers"]["cleavr"]
    assert os.path.isabs(entry["command"]) and entry["args"][-1] == "serve"
    [backup] = backups(config)
    assert backup.read_text() == original
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # the permissions of the original are kept
    out = capsys.readouterr().out
    assert "Added the 'cleavr' server" in out and str(backup) in out


def test_install_is_idempotent(config, capsys):
    assert main(["install", "claude-desktop", "--config", str(config)]) == 0
    after_first = config.read_text()
    assert main(["install", "claude-desktop", "--config", str(config)]) == 0
    assert config.read_text() == after_first
    assert len(backups(config)) == 1
    assert "nothing changed" in capsys.readouterr().out


def test_install_updates_a_changed_entry_with_a_new_backup(config, capsys):
    assert main(["install", "claude-desktop", "--config", str(config)]) == 0
    assert main(["install", "claude-desktop", "--config", str(config), "--env", "CLEAVR_MCP_READ_ONLY=true",
                 "--env", "CLEAVR_MCP_BASE_URL=https://api-test.cleavr.fr"]) == 0
    entry = json.loads(config.read_text())["mcpServers"]["cleavr"]
    assert entry["env"] == {"CLEAVR_MCP_BASE_URL": "https://api-test.cleavr.fr", "CLEAVR_MCP_READ_ONLY": "true"}
    assert len(backups(config)) == 2
    assert "Updated the 'cleavr' server" in capsys.readouterr().out


def test_install_creates_a_missing_file_without_backup(tmp_path):
    path = tmp_path / "new" / "claude_desktop_config.json"
    result = merge_server(path, server_entry())
    assert result.changed and result.backup is None
    assert list(json.loads(path.read_text())["mcpServers"]) == ["cleavr"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"mcpServers": []}'])
def test_install_refuses_to_touch_a_broken_file(tmp_path, capsys, content):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(content)
    assert main(["install", "claude-desktop", "--config", str(path)]) == 1
    assert path.read_text() == content and backups(path) == []
    assert "nothing was changed" in capsys.readouterr().out.lower()


def test_install_cursor_and_custom_name(tmp_path):
    path = tmp_path / ".cursor" / "mcp.json"
    assert main(["install", "cursor", "--config", str(path), "--name", "cleavr-test"]) == 0
    assert list(json.loads(path.read_text())["mcpServers"]) == ["cleavr-test"]


def test_bad_env_pair(tmp_path, capsys):
    assert main(["install", "claude-desktop", "--config", str(tmp_path / "c.json"), "--env", "NOEQUALS"]) == 2
    assert not (tmp_path / "c.json").exists()


def test_print_writes_nothing_and_shows_every_client(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["install", "claude-desktop", "--print", "--env", "CLEAVR_MCP_READ_ONLY=true"]) == 0
    out = capsys.readouterr().out
    assert "claude_desktop_config.json" in out and '"mcpServers"' in out
    assert "claude mcp add cleavr -e CLEAVR_MCP_READ_ONLY=true -- " in out and out.count(" serve") >= 2
    assert "claude mcp add --transport http cleavr http://127.0.0.1:8765/mcp" in out
    assert ".cursor/mcp.json" in out
    assert list(tmp_path.iterdir()) == []
    snippet = out[out.index("{"):out.index("}\n\n") + 1]
    assert json.loads(snippet)["mcpServers"]["cleavr"]["args"][-1] == "serve"


def test_server_command_is_absolute():
    command = server_command()
    assert os.path.isabs(command[0]) and command[-1] == "serve"


def test_default_config_path_is_the_claude_folder():
    path = claude_desktop_config_path()
    assert path.name == "claude_desktop_config.json" and path.parent.name == "Claude"


def test_install_warns_about_settings_only_the_shell_has(config, monkeypatch, capsys):
    monkeypatch.setenv("CLEAVR_MCP_BASE_URL", "https://api-test.cleavr.fr")
    assert main(["install", "claude-desktop", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "CLEAVR_MCP_BASE_URL" in out and "--env KEY=VALUE" in out
    assert "https://api-test.cleavr.fr" not in config.read_text()  # never copied silently (may be secrets)
