"""Streamable HTTP deployment: loopback by default, /healthz, refuses a public bind without authentication."""

from __future__ import annotations

import json
import sys

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import __version__
from ..config import Settings
from .app import CleavrMCP
from .main import is_loopback


class UnsafeBindError(RuntimeError):
    pass


def build_http_app(server: CleavrMCP, settings: Settings):
    if not is_loopback(settings.http_host) and not settings.auth_tokens and not settings.jwks_url:
        raise UnsafeBindError(
            f"Refusing to serve on {settings.http_host} without authentication: set CLEAVR_MCP_AUTH_TOKENS "
            "(or CLEAVR_MCP_JWKS_URL), or bind to 127.0.0.1."
        )

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "environment": settings.environment.value})

    return server.streamable_http_app(host=settings.http_host)


def connection_help(settings: Settings) -> str:
    url = f"http://{settings.http_host}:{settings.http_port}/mcp"
    desktop = {"mcpServers": {"cleavr": {"command": "cleavr-mcp", "args": ["serve"]}}}
    return "\n".join([
        f"cleavr-mcp {__version__} — environment: {settings.environment.value}",
        f"MCP endpoint (streamable HTTP): {url}",
        f"  Claude Code:   claude mcp add --transport http cleavr {url}",
        f"  MCP Inspector: npx @modelcontextprotocol/inspector --cli --method tools/list -- {url}",
        "  Claude Desktop (stdio) claude_desktop_config.json:",
        "    " + json.dumps(desktop),
        f"Health: http://{settings.http_host}:{settings.http_port}/healthz",
    ])


def run_http(server: CleavrMCP, settings: Settings) -> int:
    import uvicorn

    try:
        app = build_http_app(server, settings)
    except UnsafeBindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(connection_help(settings), file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning")
    return 0
