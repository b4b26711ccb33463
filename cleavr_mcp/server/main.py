"""`cleavr-mcp serve`: stdio (default, for Claude Desktop) or streamable HTTP."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..config import Settings

logger = logging.getLogger("cleavr_mcp.server")


def end_of_startup() -> None:
    """Everything built so far lives as long as the process: keep it out of every later garbage collection
    (`cli` disabled the collector for the start-up; the little garbage start-up leaves is not worth a full pass)."""
    import gc

    gc.freeze()
    gc.enable()


def _configure_logging(level: str | None = None) -> None:
    """stdio carries the protocol on stdout: logs go to stderr only. By default the libraries log warnings only
    (no line per request from httpx2, the SDK or the embedded sandbox) and cleavr-mcp its own rare INFO lines;
    `--log-level` sets one level for everything."""
    logging.basicConfig(level=(level or "warning").upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cleavr_mcp").setLevel((level or "info").upper())


# CLI flag (argparse dest) → Settings field. Flags override the environment / .env; unset flags leave them alone.
SERVE_OVERRIDES = {
    "host": "http_host",
    "port": "http_port",
    "public_url": "public_url",
    "read_only": "read_only",
    "toolsets": "toolsets",
    "tools": "tools",
    "exclude_tools": "exclude_tools",
    "no_money": "no_money",
    "stateless": "stateless_http",
    "json_response": "json_response",
}
from ..events.cli import SERVE_OVERRIDES as _EVENT_OVERRIDES  # noqa: E402 - argparse-only module

SERVE_OVERRIDES.update(_EVENT_OVERRIDES)  # --webhook-port/--webhook-host/--no-poll/--poll-interval


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from env/.env with the flags that were given on top (lists as "a,b" like the env vars)."""
    overrides = {field: getattr(args, dest) for dest, field in SERVE_OVERRIDES.items()
                 if getattr(args, dest, None) is not None}
    return Settings(**overrides, **extra)


def serve(args: argparse.Namespace) -> int:
    _configure_logging(getattr(args, "log_level", None))
    from pydantic import ValidationError

    from ..config import describe_settings_error

    try:
        settings = settings_from_args(args)
    except ValidationError as exc:  # names the variable and the problem, never the value (it may be a secret)
        print(f"error: {describe_settings_error(exc)}", file=sys.stderr)
        return 2
    if args.transport == "http":
        from .auth import AuthConfigError
        from .http import UnsafeBindError, check_bind

        try:
            check_bind(settings)  # before building anything: a public bind without auth never starts
        except (UnsafeBindError, AuthConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from .app import build_server
    from .auth import AuthConfigError

    try:
        server = build_server(settings)
    except AuthConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    end_of_startup()
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    from .http import run_http

    return run_http(server, settings)
