"""Streamable HTTP deployment: /mcp (bearer auth when configured), /healthz, DNS-rebinding protection on every bind.

Refuses to serve on a non-loopback address without authentication. Transport options (stateless, JSON
responses) come from Settings; auth and request_state keys are set on the server itself (`server/auth.py`).

Host and Origin are checked on every route of the app (MCP endpoint, webhook receiver, health, any page a later
route adds) by `HostOriginMiddleware`, parsed and matched exactly (`cleavr_mcp/net.py`, shared with the stdio
webhook listener); the SDK's own prefix-matching check stays on /mcp as a second layer.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .. import __version__
from ..config import Settings
from ..net import HostOriginPolicy, guard_host_origin, is_loopback, transport_security
from .auth import AuthConfigError, auth_installed, hash_token

if TYPE_CHECKING:
    from .app import CleavrMCP

logger = logging.getLogger("cleavr_mcp.server.http")


class UnsafeBindError(RuntimeError):
    pass


def _refuse_public_bind(settings: Settings) -> None:
    raise UnsafeBindError(
        f"Refusing to serve on {settings.http_host} without authentication: set CLEAVR_MCP_AUTH_TOKENS "
        "(or CLEAVR_MCP_AUTH_TOKEN_HASHES, or CLEAVR_MCP_JWKS_URL), or bind to 127.0.0.1."
    )


def check_bind(settings: Settings) -> None:
    """Raise UnsafeBindError for a public bind without auth (before anything heavy is built): auth counts as on
    only when a verifier is really built from the settings."""
    if not is_loopback(settings.http_host) and not auth_installed(settings):
        _refuse_public_bind(settings)


def build_http_app(server: CleavrMCP, settings: Settings):
    check_bind(settings)
    verifier = server.installed_token_verifier
    if verifier is None and not is_loopback(settings.http_host):
        _refuse_public_bind(settings)  # the server itself enforces no auth, whatever the settings say

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(request: Request) -> Response:
        # Anyone may learn that the server is up; the version and environment only a caller with a valid token.
        if verifier is not None and await _authenticated(verifier, request):
            url = settings.database_url.get_secret_value() if settings.database_url else ""
            return JSONResponse({"status": "ok", "version": __version__, "environment": settings.environment.value,
                                 "state": "postgresql" if url.startswith("postgres") else "sqlite"})
        return PlainTextResponse("ok")

    mount_approval_page(server, settings)
    app = server.streamable_http_app(
        host=settings.http_host,
        stateless_http=settings.stateless_http,
        json_response=settings.json_response,
        transport_security=transport_security(settings),  # the SDK's check, kept as a second layer
    )
    return guard_host_origin(app, settings)


def mount_approval_page(server: CleavrMCP, settings: Settings) -> None:
    """The approval page on the HTTP app itself (/approvals/<id>): same Host allow-list as /mcp; over
    authenticated HTTP the page asks the person to sign in (one-time code or OIDC, approvals/signin.py)."""
    from .approvals.page import routes

    for digest in settings.approval_admin_token_hashes:
        if len(digest.strip()) != 64 or any(c not in "0123456789abcdef" for c in digest.strip().lower()):
            raise AuthConfigError("CLEAVR_MCP_APPROVAL_ADMIN_TOKEN_HASHES must be SHA-256 hex digests (64 hex "
                                  "characters; `cleavr-mcp approvals admin-token` prints one).")
    bearer = {hash_token(t.get_secret_value()) for t in settings.auth_tokens} | {
        d.strip().lower() for d in settings.auth_token_hashes}
    if bearer & {d.strip().lower() for d in settings.approval_admin_token_hashes}:
        raise AuthConfigError("An approval admin credential (CLEAVR_MCP_APPROVAL_ADMIN_TOKEN_HASHES) is also an MCP "
                              "bearer token: a model's token must never issue sign-in codes. Use a separate one.")
    if settings.approval_oidc_issuer:
        from .auth import JWKSCache

        try:
            server.approvals.enable_oidc(JWKSCache)
        except ValueError as exc:
            raise AuthConfigError(str(exc)) from None
    policy = HostOriginPolicy.from_settings(settings)
    server.approvals.mount_http(settings.mcp_url.rsplit("/mcp", 1)[0], policy.host_allowed)
    for route in routes(server.approvals):
        server.custom_route(route.path, methods=sorted(route.methods - {"HEAD"}))(route.endpoint)


async def _authenticated(verifier: Any, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    try:
        return await verifier.verify_token(token.strip()) is not None
    except Exception:  # noqa: BLE001 - a token the verifier chokes on is simply not valid
        return False


def connection_help(settings: Settings, *, auth_on: bool | None = None) -> str:
    """The start-up banner; `auth_on` is whether the running server has a verifier (default: whether one is
    built from the settings)."""
    if auth_on is None:
        auth_on = auth_installed(settings)
    url = settings.mcp_url
    base = url.rsplit("/mcp", 1)[0]
    # The absolute path: Claude Desktop does not start servers with this shell's PATH.
    command = shutil.which("cleavr-mcp") or str(Path(sys.executable).with_name("cleavr-mcp"))
    desktop = {"mcpServers": {"cleavr": {"command": command, "args": ["serve"]}}}
    auth_header = ' --header "Authorization: Bearer <token>"' if auth_on else ""
    lines = [
        f"cleavr-mcp {__version__} — environment: {settings.environment.value}",
        f"MCP endpoint (streamable HTTP): {url}"
        + ("  [bearer auth required]" if auth_on else "  [no auth: loopback only]"),
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
    print(connection_help(settings, auth_on=server.installed_token_verifier is not None), file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning")
    return 0
