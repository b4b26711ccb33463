"""`cleavr-mcp install claude-desktop|cursor`: add a `cleavr` server to an MCP client's JSON config.

The existing file is merged, never replaced: other servers and keys are kept, a timestamped backup is written
before any change, and running it again with the same entry changes nothing. `--print` writes nothing and shows
the snippets for Claude Desktop, Claude Code and Cursor instead.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

DEFAULT_NAME = "cleavr"


class InstallError(Exception):
    pass


def claude_desktop_config_path() -> Path:
    """Where Claude Desktop reads its config: ~/Library/Application Support/Claude (macOS), %APPDATA%\\Claude
    (Windows), ~/.config/Claude (Linux builds)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("Claude", appauthor=False, roaming=True)) / "claude_desktop_config.json"


def cursor_config_path() -> Path:
    return Path.cwd() / ".cursor" / "mcp.json"


def server_command() -> list[str]:
    """An absolute command line for `cleavr-mcp serve`: desktop apps do not start with the shell's PATH."""
    beside_python = Path(sys.executable).parent / ("cleavr-mcp.exe" if os.name == "nt" else "cleavr-mcp")
    if beside_python.exists():
        return [str(beside_python), "serve"]
    found = shutil.which("cleavr-mcp")
    if found:
        return [str(Path(found).resolve()), "serve"]
    return [sys.executable, "-m", "cleavr_mcp.cli", "serve"]


def server_entry(env: dict[str, str] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    command = command or server_command()
    entry: dict[str, Any] = {"command": command[0], "args": command[1:]}
    if env:
        entry["env"] = dict(sorted(env.items()))
    return entry


@dataclass(frozen=True)
class InstallResult:
    path: Path
    changed: bool
    backup: Path | None
    replaced_existing: bool


def _read_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InstallError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix or move it, "
                           "then run install again. Nothing was changed.") from None
    if not isinstance(config, dict):
        raise InstallError(f"{path} does not hold a JSON object; nothing was changed.")
    servers = config.get("mcpServers")
    if servers is not None and not isinstance(servers, dict):
        raise InstallError(f'"mcpServers" in {path} is not an object; nothing was changed.')
    return config


def _backup_path(path: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    return candidate


def _write_atomic(path: Path, text: str, mode: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_server(path: Path, entry: dict[str, Any], *, name: str = DEFAULT_NAME,
                 now: datetime | None = None) -> InstallResult:
    """Put `entry` under mcpServers[name] in the JSON file at `path`, keeping everything else."""
    config = _read_config(path)
    servers = dict(config.get("mcpServers") or {})
    previous = servers.get(name)
    if previous == entry:
        return InstallResult(path, changed=False, backup=None, replaced_existing=False)
    backup = None
    mode = None
    if path.exists():
        mode = path.stat().st_mode & 0o777
        backup = _backup_path(path, now or datetime.now())
        shutil.copy2(path, backup)
    servers[name] = entry
    config["mcpServers"] = servers
    _write_atomic(path, json.dumps(config, indent=2, ensure_ascii=False) + "\n", mode)
    return InstallResult(path, changed=True, backup=backup, replaced_existing=previous is not None)


def snippets(entry: dict[str, Any], *, name: str = DEFAULT_NAME, http_url: str | None = None) -> str:
    desktop = json.dumps({"mcpServers": {name: entry}}, indent=2)
    env_flags = "".join(f" -e {shlex.quote(f'{k}={v}')}" for k, v in (entry.get("env") or {}).items())
    command = " ".join(shlex.quote(part) for part in [entry["command"], *entry["args"]])
    lines = [
        f"# Claude Desktop — merge into {claude_desktop_config_path()}",
        desktop,
        "",
        "# Claude Code",
        f"claude mcp add {name}{env_flags} -- {command}",
    ]
    if http_url:
        lines.append(f"# or, to a running `cleavr-mcp serve --transport http`:\n"
                     f"claude mcp add --transport http {name} {http_url}")
    lines += ["", "# Cursor — .cursor/mcp.json in the project (or ~/.cursor/mcp.json for every project)", desktop]
    return "\n".join(lines)


def parse_env(pairs: list[str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InstallError(f"--env takes KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def run(args) -> int:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)  # paths must stay copyable: never wrapped
    try:
        entry = server_entry(parse_env(args.env))
    except InstallError as exc:
        console.print(f"[red]✗[/] {exc}")
        return 2
    if args.print:
        from ..config import Settings

        print(snippets(entry, name=args.name, http_url=Settings().mcp_url))
        return 0
    path = args.config or (claude_desktop_config_path() if args.client == "claude-desktop" else cursor_config_path())
    try:
        result = merge_server(path, entry, name=args.name)
    except (InstallError, OSError) as exc:
        console.print(f"[red]✗[/] {exc}")
        return 1
    if not result.changed:
        console.print(f"[green]✓[/] {path} already has the '{args.name}' server; nothing changed.")
        return 0
    verb = "Updated" if result.replaced_existing else "Added"
    console.print(f"[green]✓[/] {verb} the '{args.name}' server in {path}")
    if result.backup:
        console.print(f"  backup of the previous file: {result.backup}")
    shell_only = sorted(k for k in os.environ if k.startswith("CLEAVR_MCP_") and k not in (entry.get("env") or {}))
    if shell_only:
        # Desktop apps do not inherit this shell's environment, nor read a .env from this folder.
        console.print(f"  Note: this shell sets {', '.join(shell_only)}; the client will not see them. Add the ones "
                      "the server needs with --env KEY=VALUE.")
    if args.client == "claude-desktop":
        console.print("  Restart Claude Desktop to load it.")
    return 0
