"""Streamable HTTP deployment: /mcp (bearer auth when configured), /healthz, DNS-rebinding protection on every bind.

Refuses to serve on a non-loopback address without authentication. Transport options (stateless, JSON
responses) come from Settings; auth and request_state keys are set on the server itself (`server/auth.py`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import __version__
from ..config import Settings
from .app import CleavrMCP
from .auth import AuthConfigError, transport_security
from .main import is_loopback


class UnsafeBindError(RuntimeError):
    pass


def check_bind(settings: Settings) -> None:
    """Raise UnsafeBindError for a public bind without auth (before anything heavy is built)."""
    if not is_loopback(settings.http_host) and not settings.auth_configured:
        raise UnsafeBindError(
            f"Refusing to serve on {settings.http_host} without authentication: set CLEAVR_MCP_AUTH_TOKENS "
            "(or CLEAVR_MCP_AUTH_TOKEN_HASHES, or CLEAVR_MCP_JWKS_URL), or bind to 127.0.0.1."
        )


def build_http_app(server: CleavrMCP, settings: Settings):
    check_bind(settings)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "environment": settings.environment.value})

    return server.streamable_http_app(
        host=settings.http_host,
        stateless_http=settings.stateless_http,
        json_response=settings.json_response,
        transport_security=transport_security(settings),
    )


def connection_help(settings: Settings) -> str:
    url = settings.mcp_url
    base = url.rsplit("/mcp", 1)[0]
    # The absolute path: Claude Desktop does not start servers with this shell's PATH.
    command = shutil.which("cleavr-mcp") or str(Path(sys.executable).with_name("cleavr-mcp"))
    desktop = {"mcpServers": {"cleavr": {"command": command, "args": ["serve"]}}}
    auth_header = ' --header "Authorization: Bearer <token>"' if settings.auth_configured else ""
    lines = [
        f"cleavr-mcp {__version__} — environment: {settings.environment.value}",
        f"MCP endpoint (streamable HTTP): {url}"
        + ("  [bearer auth required]" if settings.auth_configured else "  [no auth: loopback only]"),
        f"  Claude Code:   claude mcp add --transport http cleavr {url}{auth_header}",
        f"  MCP Inspector: npx @modelcontextprotocol/inspector --cli --method tools/list -- {url}",
        "  Claude Desktop (stdio) claude_desktop_config.json:",
        "    " + json.dumps(desktop),
        f"Health: {base}/healthz",
    ]
    if not is_loopback(settings.http_host) and not (settings.allowed_hosts or settings.public_url):
        lines.append("Note: only loopback Host headers are accepted; set CLEAVR_MCP_PUBLIC_URL or "
                     "CLEAVR_MCP_ALLOWED_HOSTS to the name clients use.")
    return "\n".join(lines)


def run_http(server: CleavrMCP, settings: Settings) -> int:
    import uvicorn

    try:
        app = build_http_app(server, settings)
    except (UnsafeBindError, AuthConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(connection_help(settings), file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning")
    return 0
