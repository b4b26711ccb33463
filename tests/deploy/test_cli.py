"""The CLI surface: every command is reachable, and `--help` stays fast (nothing heavy imported)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cleavr_mcp.cli import build_parser, main


def test_help_imports_nothing_heavy():
    code = ("import sys; from cleavr_mcp.cli import build_parser; build_parser().format_help(); "
            "heavy = [m for m in ('mcp', 'httpx2', 'starlette', 'uvicorn', 'fastapi', 'rich', 'pydantic_settings', "
            "'jwt', 'cleavr_mcp.server', 'cleavr_mcp.sandbox') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [
    ["serve", "--help"], ["sandbox", "--help"], ["auth", "login", "--help"], ["login", "--help"], ["auth", "status", "--help"],
    ["auth", "logout", "--help"], ["auth", "new-token", "--help"], ["install", "--help"], ["doctor", "--help"],
    ["audit", "--help"],
])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "usage: cleavr-mcp" in capsys.readouterr().out


def test_top_level_help_lists_the_commands():
    text = build_parser().format_help()
    for command in ("serve", "sandbox", "auth", "login", "install", "doctor", "audit"):
        assert command in text
