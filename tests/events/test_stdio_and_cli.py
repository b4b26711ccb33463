"""The real commands: `cleavr-mcp serve --webhook-port N` over stdio (listener + subscriptions), and
`cleavr-mcp webhooks register|list|delete` against the sandbox over HTTP."""

from __future__ import annotations

import os
import sys

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters

from cleavr_mcp.cli import main
from cleavr_mcp.events.endpoints import EndpointStore
from cleavr_mcp.events.hub import UNHANDLED_URI
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.testing import running_sandbox, sandbox_access_token, sandbox_credentials

from .conftest import SECRET, bound_socket, envelope, eventually, signed

pytestmark = pytest.mark.anyio


def free_port() -> int:
    sock, port = bound_socket()
    sock.close()
    return port


async def test_stdio_server_with_a_webhook_listener(tmp_path):
    port = free_port()
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data"), "CLEAVR_MCP_WEBHOOK_SECRET": SECRET}
    env.pop("CLEAVR_MCP_BASE_URL", None)
    params = StdioServerParameters(command=sys.executable, cwd=str(tmp_path), env=env,
                                   args=["-m", "cleavr_mcp.cli", "serve", "--webhook-port", str(port), "--no-poll"])
    url = f"http://127.0.0.1:{port}/webhooks/cleavr"
    async with Client(params) as c, httpx2.AsyncClient() as http:
        async def up() -> bool:
            try:
                return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx2.TransportError:
                return False

        await eventually(up, timeout=20, interval=0.05)
        async with c.listen(resource_subscriptions=[UNHANDLED_URI]) as sub:
            raw, headers = signed(envelope("evt_stdio0001"))
            assert (await http.post(url, content=raw, headers=headers)).status_code == 200
            unsigned = await http.post(url, content=raw, headers={"Content-Type": "application/json"})
            assert unsigned.status_code == 401
            with anyio.fail_after(10):
                assert (await sub.__anext__()).uri == UNHANDLED_URI
        listed = (await c.call_tool("list_events", {})).structured_content
    assert [r["id"] for r in listed["rows"]] == ["evt_stdio0001"]
    assert listed["rows"][0]["next_tools"] == ["get_receivable", "submit_evidence"]


async def test_webhooks_cli_registers_lists_and_deletes(tmp_path, monkeypatch, capsys):
    config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite3", cleverinvo=False)
    with running_sandbox(config) as sandbox_url:
        client_id, client_secret = sandbox_credentials(config.db_path)
        async with httpx2.AsyncClient() as http:
            tokens = await sandbox_access_token(http, sandbox_url, client_id, client_secret)
        for key, value in {"DATA_DIR": str(tmp_path / "data"), "BASE_URL": sandbox_url, "CLIENT_ID": client_id,
                           "CLIENT_SECRET": client_secret, "ACCESS_TOKEN": tokens["access_token"],
                           "REFRESH_TOKEN": tokens["refresh_token"]}.items():
            monkeypatch.setenv(f"CLEAVR_MCP_{key}", value)
        monkeypatch.chdir(tmp_path)  # no stray .env

        # The CLI runs its own event loop: call it from a worker thread, as a shell would from outside.
        def run(*argv: str) -> int:
            return main(list(argv))

        assert await anyio.to_thread.run_sync(run, "webhooks", "register", "--url",
                                              "https://hooks.example/webhooks/cleavr") == 0
        registered = capsys.readouterr().out
        store = EndpointStore(tmp_path / "data" / "webhooks.json")
        (endpoint,) = store.load()
        assert endpoint.id in registered and endpoint.secret.startswith("whsec_")
        assert endpoint.secret not in registered  # the secret is stored, never printed
        assert endpoint.events == ["receivable.*", "payment.*", "user.*"] and endpoint.environment == "sandbox"
        assert oct(store.path.stat().st_mode & 0o777) == "0o600"

        assert await anyio.to_thread.run_sync(run, "webhooks", "list") == 0
        listing = capsys.readouterr().out
        assert endpoint.id in listing and "secret stored" in listing and endpoint.secret not in listing

        assert await anyio.to_thread.run_sync(run, "webhooks", "delete", endpoint.id) == 0
        assert "forgot its secret" in capsys.readouterr().out
        assert store.load() == []
        assert await anyio.to_thread.run_sync(run, "webhooks", "register", "--url", "not a url") == 1
        assert "error:" in capsys.readouterr().err
