"""`cleavr-mcp` command line. Subcommands import their heavy modules lazily so start-up stays light."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from .config import Settings
    from .sandbox.runner import serve_sandbox

    settings = Settings()
    serve_sandbox(settings, host=args.host, port=args.port, db_path=args.db)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .server.main import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cleavr-mcp", description="MCP server for Cleavr Connect debt recovery")
    sub = parser.add_subparsers(dest="command", required=True)

    sandbox = sub.add_parser("sandbox", help="serve the local Cleavr Connect (and CleverInvo) sandbox API")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8080)
    sandbox.add_argument("--db", type=Path, default=None, help="SQLite file (default: <data dir>/sandbox.sqlite3)")
    sandbox.set_defaults(func=_cmd_sandbox)

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
