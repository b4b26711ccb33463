"""DNS-rebinding protection (Host / Origin) on every bind, and the refusal to serve publicly without auth."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx2
import pytest

from cleavr_mcp.cli import main
from cleavr_mcp.net import transport_security
from cleavr_mcp.server.http import UnsafeBindError, build_http_app, check_bind

from .conftest import INITIALIZE, MCP_ACCEPT, make_settings, mcp_http_server

TOKEN = "transport-test-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    with mcp_http_server(tmp_path_factory.mktemp("ts"), auth_tokens=[TOKEN], allowed_hosts=["mcp.example.com"],
                         allowed_origins=["https://app.example.com"],
                         public_url=None) as (url, settings):
        yield url


def post(url: str, **headers: str) -> httpx2.Response:
    return httpx2.post(url, json=INITIALIZE, headers={**MCP_ACCEPT, "Authorization": f"Bearer {TOKEN}", **headers})


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 200),
    ({"Host": "evil.example"}, 421),
    ({"Host": "evil.example:8765"}, 421),
    ({"Host": "mcp.example.com"}, 200),
    ({"Host": "localhost:1234"}, 200),
    ({"Origin": "https://evil.example"}, 403),
    ({"Origin": "http://localhost.evil.example"}, 403),
    ({"Origin": "https://app.example.com"}, 200),
    ({"Origin": "http://localhost:3000"}, 200),
    ({"Host": "mcp.example.com", "Origin": "https://app.example.com"}, 200),
])
def test_host_and_origin_checks(guarded, headers, status):
    assert post(guarded, **headers).status_code == status


def test_public_url_host_and_origin_are_allowed(tmp_path):
    with mcp_http_server(tmp_path, auth_tokens=[TOKEN], public_url="https://mcp.example.org/mcp") as (url, settings):
        assert post(url, Host="mcp.example.org", Origin="https://mcp.example.org").status_code == 200
        assert post(url, Host="mcp.example.net").status_code == 421
        # The advertised resource is the public URL, not the bind address.
        challenge = httpx2.post(url, json=INITIALIZE, headers=MCP_ACCEPT).headers["www-authenticate"]
        assert 'resource_metadata="https://mcp.example.org/.well-known/oauth-protected-resource/mcp"' in challenge


def test_protection_is_on_for_a_wildcard_bind(tmp_path):
    """The SDK only protects loopback binds by default; ours is on for 0.0.0.0 too, with loopback names only."""
    security = transport_security(make_settings(tmp_path, http_host="0.0.0.0", auth_tokens=[TOKEN]))
    assert security.enable_dns_rebinding_protection
    assert "0.0.0.0:*" not in security.allowed_hosts and "localhost:*" in security.allowed_hosts
    lan = transport_security(make_settings(tmp_path, http_host="10.1.2.3", auth_tokens=[TOKEN],
                                           allowed_hosts=["mcp.internal"]))
    assert {"10.1.2.3", "10.1.2.3:*", "mcp.internal"} <= set(lan.allowed_hosts)


# --- public bind without auth -------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "mcp.example.com"])
def test_check_bind_refuses_public_hosts_without_auth(tmp_path, host):
    with pytest.raises(UnsafeBindError, match="without authentication"):
        check_bind(make_settings(tmp_path, http_host=host))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_auth(tmp_path, host):
    check_bind(make_settings(tmp_path, http_host=host))


@pytest.mark.parametrize("auth", [{"auth_tokens": ["t"]}, {"auth_token_hashes": ["ab" * 32]},
                                  {"jwks_url": "https://login.example/jwks.json"}])
def test_public_bind_with_auth_is_allowed(tmp_path, auth):
    check_bind(make_settings(tmp_path, http_host="0.0.0.0", **auth))


def test_build_http_app_refuses_too(tmp_path):
    from cleavr_mcp.server.app import build_server

    settings = make_settings(tmp_path, http_host="0.0.0.0")
    with pytest.raises(UnsafeBindError):
        build_http_app(build_server(settings), settings)


def test_serve_refuses_to_start_exit_code_2(tmp_path):
    """The real command, as a user would run it: exit code 2, the reason on stderr, nothing listening."""
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data")}
    env.pop("CLEAVR_MCP_AUTH_TOKENS", None)
    done = subprocess.run([sys.executable, "-m", "cleavr_mcp.cli", "serve", "--transport", "http", "--host", "0.0.0.0",
                           "--port", "1"], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "Refusing to serve on 0.0.0.0 without authentication" in done.stderr
    assert "CLEAVR_MCP_AUTH_TOKENS" in done.stderr and done.stdout == ""


def test_serve_refuses_host_from_env(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEAVR_MCP_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path))
    assert main(["serve", "--transport", "http"]) == 2
    assert "Refusing to serve on 0.0.0.0" in capsys.readouterr().err


def test_serve_refuses_short_request_state_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLEAVR_MCP_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CLEAVR_MCP_REQUEST_STATE_KEYS", "short")
    assert main(["serve", "--transport", "http"]) == 2
    assert "at least 32 bytes" in capsys.readouterr().err


# --- stateless / JSON responses ------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(("values", "session", "content_type"), [
    ({}, True, "text/event-stream"),
    ({"stateless_http": True}, False, "text/event-stream"),
    ({"stateless_http": True, "json_response": True}, False, "application/json"),
])
async def test_stateless_and_json_modes(tmp_path, values, session, content_type):
    from .conftest import HttpMCP

    with mcp_http_server(tmp_path, auth_tokens=[TOKEN], **values) as (url, _):
        first = post(url)
        assert first.status_code == 200
        assert ("mcp-session-id" in first.headers) is session
        assert first.headers["content-type"].startswith(content_type)
        for mode in ("legacy", "auto"):
            async with HttpMCP(url, {"Authorization": f"Bearer {TOKEN}"}, mode=mode) as client:
                assert "quote_commission" in {t.name for t in (await client.list_tools()).tools}


def test_serve_http_subprocess_starts_and_answers(tmp_path):
    """`cleavr-mcp serve --transport http` for real: it prints how to connect, serves /healthz, guards /mcp."""
    import time

    from .conftest import bound_socket

    sock, port = bound_socket()
    sock.close()
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data"), "CLEAVR_MCP_AUTH_TOKENS": TOKEN,
           "CLEAVR_MCP_BASE_URL": "http://127.0.0.1:9"}
    proc = subprocess.Popen([sys.executable, "-m", "cleavr_mcp.cli", "serve", "--transport", "http", "--port",
                             str(port), "--read-only"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        assert health is not None and health.text == "ok"
        assert httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE, headers=MCP_ACCEPT).status_code == 401
        assert post(f"http://127.0.0.1:{port}/mcp").status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert f"MCP endpoint (streamable HTTP): http://127.0.0.1:{port}/mcp  [bearer auth required]" in err
    assert TOKEN not in err  # the token is never echoed
