"""Who may reach our HTTP listeners: the loopback test, the Host/Origin allow-lists (DNS-rebinding protection) and
their exact check, used by the MCP HTTP app (server/http.py) and the webhook listener (events/listener.py) alike.

Host and Origin are checked on every route of an app by `HostOriginMiddleware`: each header is parsed (RFC 3986
authority / RFC 6454 origin) and compared exactly, host and port, with the allowed list. The SDK's own check
stays on /mcp as a second layer, but it compares by string prefix ("127.0.0.1:*" admits "127.0.0.1:evil.com",
"127.0.0.1:1@evil.com"), which is why it is not relied on.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response

from .config import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("cleavr_mcp.server.http")  # the name the refusals were always logged under

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    parts = urlparse(url)
    return f"{parts.scheme}://{parts.netloc}"


def _host_patterns(host: str) -> list[str]:
    return [host, f"{host}:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection for every bind: Host and Origin must be loopback, the public URL's, or configured."""
    hosts: list[str] = []
    origins: list[str] = []
    for loopback in LOOPBACK_HOSTS:
        hosts += _host_patterns(loopback)
        origins += [f"http://{loopback}", f"http://{loopback}:*", f"https://{loopback}", f"https://{loopback}:*"]
    bind = settings.http_host
    if bind not in ("0.0.0.0", "::", ""):
        bound = f"[{bind}]" if ":" in bind else bind
        hosts += _host_patterns(bound)
    if settings.public_url:
        public = urlparse(settings.public_url)
        hosts.append(public.netloc)
        if public.port is None and public.hostname:
            hosts.append(public.hostname)
        origins.append(origin_of(settings.public_url))
    hosts += list(settings.allowed_hosts)
    origins += list(settings.allowed_origins)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=_unique(hosts),
                                     allowed_origins=_unique(origins))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


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
