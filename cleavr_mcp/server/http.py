"""Streamable HTTP deployment: /mcp (bearer auth when configured), /healthz, DNS-rebinding protection on every bind.

Refuses to serve on a non-loopback address without authentication. Transport options (stateless, JSON
responses) come from Settings; auth and request_state keys are set on the server itself (`server/auth.py`).

Host and Origin are checked here, on every route of the app (MCP endpoint, webhook receiver, health, any page a
later route adds), by `HostOriginMiddleware`: each header is parsed (RFC 3986 authority / RFC 6454 origin) and
compared exactly, host and port, with the allowed list. The SDK's own check stays on /mcp as a second layer, but
it compares by string prefix ("127.0.0.1:*" admits "127.0.0.1:evil.com", "127.0.0.1:1@evil.com"), which is why it
is not relied on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .. import __version__
from ..config import Settings
from .auth import AuthConfigError, auth_installed, hash_token, transport_security
from .main import is_loopback

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from .app import CleavrMCP

logger = logging.getLogger("cleavr_mcp.server.http")

ANY_PORT = -1  # a pattern "host:*"


@dataclass(frozen=True)
class Authority:
    """A parsed host[:port]: host lower-cased, one trailing dot removed, IPv6 in brackets; port None when absent."""

    host: str
    port: int | None


def _norm_host(host: str) -> str | None:
    host = host.lower()
    if host.startswith("["):
        if not host.endswith("]"):
            return None
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if not host or any(not label or len(label) > 63 for label in labels):
        return None
    if any(not ch.isascii() or not (ch.isalnum() or ch == "-") for label in labels for ch in label):
        return None  # no userinfo, path, spaces, percent-encoding or non-ASCII in a Host header
    return host


def _port(text: str, *, pattern: bool = False) -> int | None:
    if pattern and text == "*":
        return ANY_PORT
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("bad port")
    return int(text)


def parse_authority(value: str | None, *, pattern: bool = False) -> Authority | None:
    """`host`, `host:port`, `[v6]:port` → Authority; anything else (userinfo, a path, junk after the port) → None."""
    if not value or value != value.strip() or any(ch in value for ch in "@/\\?#% \t"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1:]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, sep, port_text = value.partition(":")
        if not sep:
            port_text = None
    try:
        port = None if port_text is None else _port(port_text, pattern=pattern)
    except ValueError:
        return None
    normal = _norm_host(host)
    return Authority(normal, port) if normal else None


@dataclass(frozen=True)
class Origin:
    scheme: str
    authority: Authority


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str | None, *, pattern: bool = False) -> Origin | None:
    """`scheme://host[:port]` and nothing else (no userinfo, path, query or fragment); "null" → None."""
    if not value or value != value.strip() or "://" not in value:
        return None
    scheme, _, rest = value.partition("://")
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    authority = parse_authority(rest, pattern=pattern)
    if authority is None:
        return None
    if authority.port == _DEFAULT_PORTS[scheme]:
        authority = Authority(authority.host, None)
    return Origin(scheme, authority)


def _matches(found: Authority, allowed: Authority) -> bool:
    return found.host == allowed.host and (allowed.port == ANY_PORT or found.port == allowed.port)


@dataclass(frozen=True)
class HostOriginPolicy:
    """Exact, parsed Host and Origin checks (patterns "host", "host:port", "host:*"; origins alike)."""

    hosts: tuple[Authority, ...]
    origins: tuple[Origin, ...]

    @classmethod
    def from_patterns(cls, hosts: Iterable[str], origins: Iterable[str]) -> HostOriginPolicy:
        parsed_hosts = [a for a in (parse_authority(h, pattern=True) for h in hosts) if a is not None]
        parsed_origins = [o for o in (parse_origin(o, pattern=True) for o in origins) if o is not None]
        return cls(tuple(dict.fromkeys(parsed_hosts)), tuple(dict.fromkeys(parsed_origins)))

    @classmethod
    def from_settings(cls, settings: Settings, *, extra_hosts: Iterable[str] = ()) -> HostOriginPolicy:
        """The same allowed lists as the SDK's check (loopback, the bind address, the public URL, the configured
        ones), parsed."""
        security = transport_security(settings)
        return cls.from_patterns([*security.allowed_hosts, *extra_hosts], security.allowed_origins)

    def host_allowed(self, value: str | None) -> bool:
        found = parse_authority(value)
        return found is not None and any(_matches(found, allowed) for allowed in self.hosts)

    def origin_allowed(self, value: str | None) -> bool:
        if value is None:
            return True  # not a browser, or a same-origin GET: Host already decides
        found = parse_origin(value)
        return found is not None and any(
            found.scheme == allowed.scheme and _matches(found.authority, allowed.authority) for allowed in self.origins)

    def refusal(self, headers: Headers) -> Response | None:
        """A 421/403 response when Host or Origin is not allowed, else None. Usable from any route."""
        hosts = headers.getlist("host")
        if len(hosts) != 1 or not self.host_allowed(hosts[0]):
            logger.warning("refused a request: Host header not allowed")
            return PlainTextResponse("Invalid Host header", status_code=421)
        origins = headers.getlist("origin")
        if len(origins) > 1 or not self.origin_allowed(origins[0] if origins else None):
            logger.warning("refused a request: Origin header not allowed")
            return PlainTextResponse("Invalid Origin header", status_code=403)
        return None


class HostOriginMiddleware:
    """ASGI middleware applying `HostOriginPolicy` to every HTTP request of the wrapped app."""

    def __init__(self, app: ASGIApp, policy: HostOriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self.policy.refusal(Headers(scope=scope))
            if refusal is not None:
                if scope["type"] == "http":
                    await refusal(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


def guard_host_origin(app: Any, settings: Settings, *, extra_hosts: Iterable[str] = ()) -> Any:
    """Add the Host/Origin check to a Starlette app (every route, present and future) and return it."""
    app.add_middleware(HostOriginMiddleware, policy=HostOriginPolicy.from_settings(settings, extra_hosts=extra_hosts))
    return app


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
