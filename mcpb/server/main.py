"""Entry point of the cleavr-mcp MCP Bundle: Claude Desktop starts it as manifest.json's `mcp_config` says.

The extension's settings arrive as CLEAVR_MCP_* environment variables, except the folders the server may read
files from: a setting with several values is expanded into separate arguments (it cannot fill one environment
variable), so they come as this script's arguments and become CLEAVR_MCP_ALLOWED_ROOTS. A setting left empty
arrives as "" or, when it has no default, as its unreplaced `${user_config.…}` placeholder: both mean "not set".
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence

PREFIX = "CLEAVR_MCP_"


def unset(value: str) -> bool:
    return not value.strip() or value.startswith("${user_config.")


def server_environment(folders: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment `cleavr-mcp serve` runs with: empty settings removed, the folders as a JSON list."""
    env = {key: value for key, value in environ.items() if not (key.startswith(PREFIX) and unset(value))}
    chosen = [folder for folder in folders if not unset(folder)]
    if chosen:
        env[PREFIX + "ALLOWED_ROOTS"] = json.dumps(chosen)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    folders = list(sys.argv[1:] if argv is None else argv)
    env = server_environment(folders, os.environ)
    os.environ.clear()
    os.environ.update(env)
    from cleavr_mcp.cli import main as cleavr_mcp

    return cleavr_mcp(["serve", "--transport", "stdio"])


if __name__ == "__main__":
    sys.exit(main())
