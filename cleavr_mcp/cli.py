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
    import gc

    # Start-up creates ~150k long-lived objects (models, schemas) and little garbage: collecting while they are
    # being made only re-scans them. `serve` freezes them out of later collections and turns the collector back on.
    gc.disable()
    try:
        from .server.main import serve

        return serve(args)
    finally:
        gc.enable()  # when serve returns early (bad settings); it re-enabled the collector itself otherwise


def _cmd_auth_login(args: argparse.Namespace) -> int:
    from .commands.login import run_login

    return run_login(args)


def _cmd_auth_status(args: argparse.Namespace) -> int:
    from .commands.login import run_status

    return run_status(args)


def _cmd_auth_logout(args: argparse.Namespace) -> int:
    from .commands.login import run_logout

    return run_logout(args)


def _cmd_auth_new_token(args: argparse.Namespace) -> int:
    from .commands.login import run_new_token

    return run_new_token(args)


def _cmd_install(args: argparse.Namespace) -> int:
    from .commands.install import run

    return run(args)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .commands.doctor import run

    return run(args)


def _cmd_audit(args: argparse.Namespace) -> int:
    from .commands.audit import run

    return run(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .commands.demo import run

    return run(args)


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    # Kept here (not imported from server.main) so `--help` does not load the server stack.
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default 8765)")
    parser.add_argument("--public-url", default=None, help="the /mcp URL as clients reach it (behind a proxy)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=None,
                        help="one level for every logger (default: warnings, plus cleavr-mcp's own info lines)")
    policy = parser.add_argument_group("tool policy (HTTP request headers can only narrow it further)")
    policy.add_argument("--read-only", action="store_true", default=None, help="only tools that change nothing")
    policy.add_argument("--toolsets", default=None, metavar="A,B",
                        help="only these toolsets (users, receivables, commission, disputes, extraction, …)")
    policy.add_argument("--tools", default=None, metavar="A,B", help="only these tools")
    policy.add_argument("--exclude-tools", default=None, metavar="A,B", help="never these tools")
    policy.add_argument("--no-money", action="store_true", default=None,
                        help="remove the money tools (submit, batch, cancel, evidence, partial payment)")
    http = parser.add_argument_group("HTTP transport")
    http.add_argument("--stateless", action="store_true", default=None,
                      help="no sessions for 2025-era clients (any replica can answer)")
    http.add_argument("--json-response", action="store_true", default=None, help="JSON responses instead of SSE")
    from .events.cli import add_serve_arguments as add_event_arguments  # argparse only

    add_event_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cleavr-mcp", description="MCP server for Cleavr Connect debt recovery",
        epilog="Configuration: CLEAVR_MCP_* environment variables or a .env file (see `cleavr-mcp doctor`).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default, or streamable HTTP)")
    _add_serve_arguments(serve)
    serve.set_defaults(func=_cmd_serve)

    sandbox = sub.add_parser("sandbox", help="serve the local Cleavr Connect (and CleverInvo) sandbox API")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8080)
    sandbox.add_argument("--db", type=Path, default=None, help="SQLite file (default: <data dir>/sandbox.sqlite3)")
    sandbox.set_defaults(func=_cmd_sandbox)

    auth = sub.add_parser("auth", help="log in to Cleavr (OAuth), show or remove saved tokens, HTTP bearer tokens")
    auth_sub = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    login = auth_sub.add_parser("login", help="authorization-code login in the browser; saves tokens (0600)")
    # `cleavr-mcp login` too: the client's error messages name it that way.
    short_login = sub.add_parser("login", help="same as `auth login`")
    for parser_ in (login, short_login):
        parser_.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
        parser_.add_argument("--scopes", default=None, help="space- or comma-separated scopes (default: all)")
        parser_.add_argument("--base-url", default=None, help="Cleavr API (default CLEAVR_MCP_BASE_URL)")
        parser_.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the browser")
        parser_.set_defaults(func=_cmd_auth_login)
    auth_sub.add_parser("status", help="show the saved tokens' state").set_defaults(func=_cmd_auth_status)
    auth_sub.add_parser("logout", help="delete the saved tokens").set_defaults(func=_cmd_auth_logout)
    new_token = auth_sub.add_parser(
        "new-token", help="generate a bearer token for HTTP clients, and its hash for the server (or, with "
        "--principal, write the hash into the principals file)")
    new_token.add_argument("--principal", default=None, metavar="NAME",
                           help="create or update this principal in CLEAVR_MCP_PRINCIPALS_FILE (only the hash)")
    new_token.add_argument("--user-id", action="append", default=None, dest="user_ids", metavar="ID",
                           help="a Cleavr user id it acts for (repeatable; '*' = every creditor)")
    new_token.add_argument("--read-only", action="store_true", help="only tools that change nothing")
    new_token.add_argument("--no-money", action="store_true", help="no tools that move money")
    new_token.add_argument("--create-users", action="store_true", help="may create creditors (they become its own)")
    new_token.add_argument("--file", type=Path, default=None,
                           help="the principals file (default CLEAVR_MCP_PRINCIPALS_FILE)")
    new_token.set_defaults(func=_cmd_auth_new_token)

    install = sub.add_parser("install", help="add cleavr-mcp to Claude Desktop or Cursor (merged, with a backup)")
    install.add_argument("client", choices=["claude-desktop", "cursor"])
    install.add_argument("--config", type=Path, default=None, help="config file to edit (default: the client's)")
    install.add_argument("--name", default="cleavr", help="server name in the config (default cleavr)")
    install.add_argument("--env", action="append", metavar="KEY=VALUE", help="environment for the server (repeatable)")
    install.add_argument("--print", action="store_true",
                         help="write nothing; print snippets for Claude Desktop, Claude Code and Cursor")
    install.set_defaults(func=_cmd_install)

    doctor = sub.add_parser("doctor", help="check configuration, credentials, API, webhooks, policy (✓/✗ + fixes)")
    doctor.set_defaults(func=_cmd_doctor)

    audit = sub.add_parser("audit", help="show the audit log of write attempts")
    audit.add_argument("--since", default=None, help="2026-11-01, 2026-11-01T08:00, or a duration: 24h, 7d, 30m")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    audit.add_argument("--tool", default=None, help="only this tool")
    audit.add_argument("--principal", default=None, metavar="NAME", help="only the rows of this principal")
    audit.add_argument("--limit", type=int, default=None, help="only the last N rows")
    audit.set_defaults(func=_cmd_audit)

    demo = sub.add_parser("demo", help="a scripted tour through a real MCP client on the sandbox (onboard, quote, "
                          "submit, PDF, dispute, cancel)",
                          description="Drive the server on the embedded sandbox through the MCP SDK's client, a "
                          "scripted person answering the confirmations; exit 1 naming the step that went wrong. "
                          "Ignores CLEAVR_MCP_* settings: always the sandbox.")
    demo.add_argument("--data-dir", type=Path, default=None, metavar="PATH",
                      help="keep the demo's data here (default: a temporary folder, deleted afterwards)")
    demo.add_argument("--json", action="store_true", help="one JSON line per step instead of the transcript")
    demo.set_defaults(func=_cmd_demo)

    from .commands.db import add_db_parser  # argparse only: `db upgrade|status`

    add_db_parser(sub)

    from .events.cli import add_webhooks_parser  # argparse only: `webhooks register|list|delete`

    add_webhooks_parser(sub, _open_state)

    from .commands.approvals import add_approvals_parser  # argparse only: `approvals sign-in-code|admin-token`

    add_approvals_parser(sub)
    return parser


def _open_state(settings):
    from .toolkit.state import open_state  # when a command runs, not for --help

    return open_state(settings)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        # Any command that reads the settings: a bad value is reported by variable, never echoed (secrets).
        from pydantic import ValidationError
        from pydantic_settings import SettingsError

        if isinstance(exc, ValidationError) and exc.title == "Settings":
            from .config import describe_settings_error

            print(f"error: {describe_settings_error(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, SettingsError):
            print("error: a CLEAVR_MCP_* setting could not be parsed (" + str(exc).split(" from source")[0]
                  + "); check its format", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
