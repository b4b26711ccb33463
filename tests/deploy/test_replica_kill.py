"""A replica killed with SIGKILL in the middle of a write loses nothing: the write either completed once or the
client saw it fail (outcome unknown), and repeating it on another replica - as the model is told it may - ends with
exactly one receivable. Two real `cleavr-mcp serve` processes on one PostgreSQL, a real sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from cleavr_mcp.sandbox.testing import api_headers
from cleavr_mcp.toolkit.errors import error_of
from cleavr_mcp.toolkit.store import audit_rows_in

from .conftest import submission

pytestmark = pytest.mark.anyio
KEY = "kill-test-shared-confirmation-key-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replica(sandbox, tmp_path, name: str, database_url: str, refresh_token: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    env.update(CLEAVR_MCP_DATA_DIR=str(tmp_path / name), CLEAVR_MCP_BASE_URL=sandbox.base_url,
               CLEAVR_MCP_CLIENT_ID=sandbox.client_id, CLEAVR_MCP_CLIENT_SECRET=sandbox.client_secret,
               CLEAVR_MCP_REFRESH_TOKEN=refresh_token, CLEAVR_MCP_DATABASE_URL=database_url,
               CLEAVR_MCP_CONFIRMATION_KEY=KEY, CLEAVR_MCP_STATELESS_HTTP="true", CLEAVR_MCP_POLL_EVENTS="false",
               CLEAVR_MCP_CONFIRM_CHANNEL="model-token")  # a client without elicitation confirms by token
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "cleavr_mcp.cli", "serve", "--transport", "http", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/mcp"
        except httpx2.HTTPError:
            pass
        assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
        time.sleep(0.1)
    raise AssertionError("replica did not start")


async def _call(url: str, tool: str, args: dict):
    async with httpx2.AsyncClient(timeout=30) as http, \
            Client(streamable_http_client(url, http_client=http), mode="legacy") as client:  # token flow
        return await client.call_tool(tool, args)


async def test_a_replica_killed_mid_write_loses_nothing(sandbox, tmp_path, postgres_url):
    tokens = sandbox.tokens()
    admin = api_headers(tokens["access_token"])
    a, url_a = _replica(sandbox, tmp_path, "a", postgres_url, tokens["refresh_token"])
    b, url_b = _replica(sandbox, tmp_path, "b", postgres_url, tokens["refresh_token"])
    body = submission(sandbox.demo_user)
    number = body["invoice"]["numbers"][0]
    try:
        first = await _call(url_a, "submit_receivable", {"receivable": body})
        token = first.structured_content["confirmation"]["confirmation_token"]
        # The API now takes 1.5 s per request: the confirmed write is in flight on A when A is killed.
        httpx2.put(f"{sandbox.base_url}/sandbox/faults", json={"latency_ms": 1500}, headers=admin).raise_for_status()
        failure: list[BaseException] = []

        async def confirmed_write_on_a() -> None:
            try:
                await _call(url_a, "submit_receivable", {"receivable": body, "confirmation_token": token})
            except BaseException as exc:  # noqa: BLE001 - the connection dies with the replica
                failure.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(confirmed_write_on_a)
            await anyio.sleep(2.3)
            a.kill()  # SIGKILL, mid-request
        assert failure, "the write on the killed replica cannot have answered"
        httpx2.put(f"{sandbox.base_url}/sandbox/faults", json={}, headers=admin).raise_for_status()

        # The model repeats the call on another replica. Killed after it spent the token (the usual case: the
        # resolver's reads take 1.5 s, then the token is spent, then the POST is in flight), the token is refused
        # as already used - never accepted twice - and the user confirms again; killed before, B accepts it. Either
        # way the write is idempotent: one receivable.
        again = await _call(url_b, "submit_receivable", {"receivable": body, "confirmation_token": token})
        if again.is_error:
            assert error_of(again)["code"] == "CONFIRMATION_INVALID" and "already used" in error_of(again)["message"]
            ask = await _call(url_b, "submit_receivable", {"receivable": body})
            fresh = ask.structured_content["confirmation"]["confirmation_token"]
            done = await _call(url_b, "submit_receivable", {"receivable": body, "confirmation_token": fresh})
        else:
            done = again
        assert done.structured_content["status"] == "done", done.content
        listed = httpx2.get(f"{sandbox.base_url}/v1/receivables", params={"limit": 100},
                            headers={**admin, "Cleavr-Version": "2026-01-02"}).json()["data"]
        assert [r["id"] for r in listed if number in r["invoice"]["numbers"]] == [
            done.structured_content["receivable"]["id"]]
        outcomes = [(r.outcome, r.error_code) for r in audit_rows_in(postgres_url)]
        assert outcomes[0] == ("confirmation_required", None) and outcomes[-1] == ("done", None)
        assert outcomes.count(("done", None)) == 1
        assert again.is_error == (("refused", "TOKEN_REPLAYED") in outcomes)
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()
