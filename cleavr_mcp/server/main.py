"""`cleavr-mcp serve`: stdio (default, for Claude Desktop) or streamable HTTP on loopback."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

from ..config import Settings

logger = logging.getLogger("cleavr_mcp.server")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _configure_logging() -> None:
    # stdio carries the protocol on stdout: logs go to stderr only.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(args: argparse.Namespace) -> int:
    _configure_logging()
    settings = Settings()
    if getattr(args, "host", None):
        settings.http_host = args.host
    if getattr(args, "port", None):
        settings.http_port = args.port
    from .app import build_server

    server = build_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
        return 0
    from .http import run_http

    return run_http(server, settings)
