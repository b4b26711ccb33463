"""Host and Origin are parsed and matched exactly (host and port) on every route: the MCP endpoint, the webhook
receiver, /healthz, and the stdio webhook listener. The SDK's prefix match let these through with a valid token."""

from __future__ import annotations

import httpx2
import pytest

from tests.deploy.conftest import INITIALIZE, MCP_ACCEPT, mcp_http_server

TOKEN = "host-origin-test-token-0123456789"

HOSTILE_HOSTS = [
    "127.0.0.1:evil.com", "127.0.0.1:{port}@evil.com", "127.0.0.1:{port}.evil.com", "localhost:{port}/evil.com",
    "127.0.0.1:{port}:80", "127.0.0.1:{port} evil.com", "127.0.0.1:-1", "127.0.0.1:0", "127.0.0.1:99999",
    "127.0.0.1:+{port}", "127.0.0.1:{port}#evil.com", "127.0.0.1:{port}?x", "127.0.0.1%3a{port}", "evil.com",
    "evil.com:{port}", "127.0.0.1.evil.com:{port}", "localhost.evil.com:{port}", "[::1]evil.com", "[::1:{port}",
    "", "user@127.0.0.1:{port}", "127.0.0.1:{port}\\evil.com", "１２７.0.0.1:{port}",
]
HOSTILE_ORIGINS = [
    "http://127.0.0.1:80.evil.com", "http://127.0.0.1:1@evil.com", "http://127.0.0.1:evil.com",
    "http://localhost:3000.evil.com", "http://localhost:3000@evil.com", "http://evil.com", "https://evil.com:443",
    "http://127.0.0.1.evil.com", "null", "file://", "javascript://127.0.0.1", "http://127.0.0.1:3000/path",
    "http://127.0.0.1:3000?q", "ftp://127.0.0.1:21", "http://[::1]:1@evil.com", "http://user@localhost:3000",
]
# (LOCALHOST:port and localhost.:port pass this check but not the SDK's exact one, kept on /mcp.)
GOOD_HOSTS = ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"]
GOOD_ORIGINS = [None, "http://127.0.0.1:3000", "http://localhost:{port}", "https://localhost", "http://[::1]:8080"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with mcp_http_server(tmp_path_factory.mktemp("hosts"), auth_tokens=[TOKEN]) as (url, settings):
        yield url, settings.http_port


def _send(url: str, path: str, host: str | None = None, origin: str | None = None) -> int:
    headers = {**MCP_ACCEPT, "Authorization": f"Bearer {TOKEN}"}
    if origin is not None:
        headers["Origin"] = origin
    base = url.rsplit("/mcp", 1)[0]
    with httpx2.Client(timeout=10) as http:
        request = http.build_request("POST" if path != "/healthz" else "GET", base + path,
                                     json=INITIALIZE if path == "/mcp" else {}, headers=headers)
        if host is not None:
            request.headers["Host"] = host
        return http.send(request).status_code


ROUTES = ["/mcp", "/webhooks/cleavr", "/healthz"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_hostile_host_is_refused_on_every_route(served, route, host):
    url, port = served
    assert _send(url, route, host=host.format(port=port)) in (400, 421)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_hostile_origin_is_refused_on_every_route(served, route, origin):
    url, port = served
    assert _send(url, route, origin=origin.format(port=port)) == 403


@pytest.mark.parametrize("host", GOOD_HOSTS)
@pytest.mark.parametrize("origin", GOOD_ORIGINS)
def test_allowed_host_and_origin_still_work(served, host, origin):
    url, port = served
    status = _send(url, "/mcp", host=host.format(port=port), origin=origin and origin.format(port=port))
    assert status == 200


def test_the_webhook_route_is_reached_when_allowed(served):
    url, _ = served
    assert _send(url, "/webhooks/cleavr") == 401  # past the Host check, refused by the missing signature


def test_parsers_refuse_what_prefix_matching_accepted():
    from cleavr_mcp.net import HostOriginPolicy, parse_authority, parse_origin

    assert parse_authority("127.0.0.1:evil.com") is None
    assert parse_authority("127.0.0.1:8765@evil.com") is None
    assert parse_origin("http://127.0.0.1:80.evil.com") is None
    assert parse_origin("http://127.0.0.1:1@evil.com") is None
    policy = HostOriginPolicy.from_patterns(["127.0.0.1:*", "mcp.example.com"], ["http://localhost:*"])
    assert policy.host_allowed("127.0.0.1:1") and policy.host_allowed("MCP.example.com")
    assert not policy.host_allowed("mcp.example.com:8443") and not policy.host_allowed("127.0.0.2:1")
    assert policy.origin_allowed("http://localhost:5173") and not policy.origin_allowed("https://localhost:5173")


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1:evil.com", "127.0.0.1:1@evil.com", "evil.com"])
async def test_the_stdio_webhook_listener_checks_hosts_too(tmp_path, host):
    from cleavr_mcp.config import Settings
    from cleavr_mcp.events import EventHub
    from cleavr_mcp.events.listener import receiver_app

    hub = EventHub(Settings(_env_file=None, data_dir=tmp_path))
    app = receiver_app(hub)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8") as http:
        assert (await http.post("/webhooks/cleavr", content=b"{}", headers={"Host": host})).status_code == 421
        assert (await http.post("/webhooks/cleavr", content=b"{}",
                                headers={"Origin": "http://127.0.0.1:80.evil.com"})).status_code == 403
        assert (await http.post("/webhooks/cleavr", content=b"{}")).status_code == 401
        assert (await http.get("/healthz")).text == "ok"
    await hub.close()
