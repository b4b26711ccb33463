"""The sandbox over real HTTP: uvicorn on an ephemeral port (testing.running_sandbox)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

import anyio
import httpx2
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.contract import MAX_JSON_BODY_BYTES, SIGNATURE_HEADER
from cleavr_mcp.sandbox import create_app
from cleavr_mcp.sandbox.testing import (
    api_headers,
    demo_user_id,
    running_sandbox,
    sandbox_access_token,
    sandbox_credentials,
)

from .conftest import make_config, receivable_body

pytestmark = pytest.mark.anyio


async def login(http, base_url, db_path) -> dict[str, str]:
    client_id, client_secret = sandbox_credentials(db_path)
    tokens = await sandbox_access_token(http, base_url, client_id, client_secret)
    return api_headers(tokens["access_token"])


async def test_end_to_end_over_http(tmp_path):
    config = make_config(tmp_path)
    with running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            headers = await login(http, base_url, config.db_path)
            user = (await http.post("/v1/users", json={"email": "http@platform.example"}, headers=headers)).json()
            assert user["onboarding_url"].startswith(base_url)
            refused = await http.post("/v1/receivables", content=wire.dumps(receivable_body(user["id"])),
                                      headers=headers)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "USER_NOT_ONBOARDED"
            await http.post(f"/sandbox/users/{user['id']}/complete-onboarding", headers=headers)
            created = await http.post("/v1/receivables", content=wire.dumps(receivable_body(user["id"])),
                                      headers={**headers, "Idempotency-Key": "http-1"})
            assert created.status_code == 201
            assert wire.loads(created.content)["amount"] == Decimal("5000.00")
            receivable_id = created.json()["id"]
            moved = await http.post(f"/sandbox/receivables/{receivable_id}/advance",
                                    json={"action": "start_recovery"}, headers=headers)
            assert moved.json()["status"] == "in_process"
            page = (await http.get("/v1/receivables", params={"status": "in_process"}, headers=headers)).json()
            assert [r["id"] for r in page["data"]] == [receivable_id]

            malformed = await http.post("/v1/receivables", content=b"{", headers=headers)
            assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "VALIDATION_ERROR"
            huge = await http.post("/v1/receivables", content=b" " * (MAX_JSON_BODY_BYTES + 1), headers=headers)
            assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
            # The connection is still usable after a refused large body.
            assert (await http.get("/v1/receivables", headers=headers)).status_code == 200
            missing = await http.get("/v1/receivables/rec_missing", headers=headers)
            assert missing.status_code == 404 and missing.headers["request-id"].startswith("req_")
            spec = (await http.get("/openapi.json")).json()
            assert spec["info"]["title"] == "Cleavr Connect sandbox"


async def test_faults_over_http(tmp_path):
    config = make_config(tmp_path)
    with running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            headers = await login(http, base_url, config.db_path)

            async def faults(**settings):
                assert (await http.put("/sandbox/faults", json=settings, headers=headers)).status_code == 200

            user_id = demo_user_id(config.db_path)
            body = wire.dumps(receivable_body(user_id))
            await faults(next_faults=["5xx", "429"], retry_after_seconds=1)
            unavailable = await http.post("/v1/receivables", content=body, headers=headers)
            assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
            limited = await http.post("/v1/receivables", content=body, headers=headers)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "1"

            await faults(latency_ms=120)
            start = time.monotonic()
            assert (await http.get("/v1/receivables", headers=headers)).status_code == 200
            assert time.monotonic() - start >= 0.12

            await faults(fault_drop_rate=1.0)
            with pytest.raises(httpx2.TransportError):
                await http.post("/v1/receivables", content=body, headers={**headers, "Idempotency-Key": "drop"})
            await faults()
            listed = (await http.get("/v1/receivables", headers=headers)).json()["data"]
            assert len(listed) == 1  # committed although the client saw a broken connection
            retry = await http.post("/v1/receivables", content=body, headers={**headers, "Idempotency-Key": "drop"})
            assert retry.status_code == 201 and retry.json()["id"] == listed[0]["id"]
            assert retry.headers["idempotent-replayed"] == "true"


async def test_concurrent_same_key_over_http(tmp_path):
    config = make_config(tmp_path)
    with running_sandbox(config) as base_url:
        limits = httpx2.Limits(max_connections=20)
        async with httpx2.AsyncClient(base_url=base_url, limits=limits) as http:
            headers = await login(http, base_url, config.db_path)
            body = wire.dumps(receivable_body(demo_user_id(config.db_path)))
            responses = []

            async def send():
                responses.append(await http.post("/v1/receivables", content=body,
                                                 headers={**headers, "Idempotency-Key": "same"}))

            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(send)
            assert [r.status_code for r in responses] == [201] * 20
            assert len({r.json()["id"] for r in responses}) == 1
            stats = (await http.get("/sandbox/stats", headers=headers)).json()
            assert stats["receivables"]["total"] == 1


async def test_concurrent_writes_lose_nothing(tmp_path):
    config = make_config(tmp_path)
    with running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url, limits=httpx2.Limits(max_connections=20)) as http:
            headers = await login(http, base_url, config.db_path)
            user_id = demo_user_id(config.db_path)
            created: list[str] = []

            async def create(i: int):
                response = await http.post("/v1/receivables", content=wire.dumps(receivable_body(user_id, f"C-{i}")),
                                           headers=headers)
                created.append(response.json()["id"])

            async with anyio.create_task_group() as group:
                for i in range(15):
                    group.start_soon(create, i)
            assert len(set(created)) == 15
            target = created[0]

            async def patch(i: int):
                response = await http.patch(f"/v1/receivables/{target}", json={"metadata": {f"k{i}": i}},
                                            headers=headers)
                assert response.status_code == 200

            async def add_contact(i: int):
                response = await http.post(f"/v1/receivables/{target}/contacts",
                                           json={"email": f"c{i}@debtor.example"}, headers=headers)
                assert response.status_code == 200

            async with anyio.create_task_group() as group:
                for i in range(12):
                    group.start_soon(patch, i)
                for i in range(9):
                    group.start_soon(add_contact, i)
            doc = (await http.get(f"/v1/receivables/{target}", headers=headers)).json()
            assert {f"k{i}" for i in range(12)} <= set(doc["metadata"])
            assert len(doc["debtor"]["contacts"]) == 10
            stats = (await http.get("/sandbox/stats", headers=headers)).json()
            assert stats["receivables"]["total"] == 15 and stats["events"] == 15


async def test_two_apps_on_one_database(tmp_path):
    """Two sandboxes (e.g. two processes) on one file see each other's writes and never double-create."""
    config = make_config(tmp_path)
    first, second = create_app(config), create_app(config)
    try:
        clients = [httpx2.AsyncClient(transport=httpx2.ASGITransport(app=a), base_url="http://x") for a in (first, second)]
        headers = await login(clients[0], "http://x", config.db_path)
        body = wire.dumps(receivable_body(demo_user_id(config.db_path)))
        answers = [await c.post("/v1/receivables", content=body, headers={**headers, "Idempotency-Key": "both"})
                   for c in clients]
        assert answers[0].json()["id"] == answers[1].json()["id"]
        assert answers[1].headers["idempotent-replayed"] == "true"
        duplicate = await clients[1].post("/v1/receivables", content=body, headers=headers)
        assert duplicate.status_code == 409
        for client in clients:
            await client.aclose()
    finally:
        first.state.sandbox.close()
        second.state.sandbox.close()


async def test_state_survives_restart(tmp_path):
    config = make_config(tmp_path)
    credentials = sandbox_credentials(config.db_path)
    with running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            client_id, client_secret = credentials
            tokens = await sandbox_access_token(http, base_url, client_id, client_secret)
            headers = api_headers(tokens["access_token"])
            body = wire.dumps(receivable_body(demo_user_id(config.db_path)))
            first = (await http.post("/v1/receivables", content=body,
                                     headers={**headers, "Idempotency-Key": "restart"})).json()
            await http.post("/v1/webhooks", json={"url": "https://platform.example/h", "events": ["*"]},
                            headers=headers)
    assert sandbox_credentials(config.db_path) == credentials
    with running_sandbox(config) as base_url:  # a new app on the same file
        async with httpx2.AsyncClient(base_url=base_url) as http:
            got = await http.get(f"/v1/receivables/{first['id']}", headers=headers)  # the old token still works
            assert got.status_code == 200 and got.json() == first
            replay = await http.post("/v1/receivables", content=body,
                                     headers={**headers, "Idempotency-Key": "restart"})
            assert replay.json()["id"] == first["id"] and replay.headers["idempotent-replayed"] == "true"
            refreshed = await http.post("/oauth/token", data={
                "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                "client_id": client_id, "client_secret": client_secret})
            assert refreshed.status_code == 200
            stats = (await http.get("/sandbox/stats", headers=headers)).json()
            assert stats["users"]["total"] == 1 and stats["receivables"]["total"] == 1 and stats["webhooks"] == 1


def webhook_receiver(answers: list[int]):
    """A tiny platform endpoint that records what it receives and answers the given statuses in turn."""
    received: list[tuple[bytes, dict[str, str]]] = []
    app = FastAPI()

    @app.post("/hooks")
    async def hooks(request: Request) -> Response:
        received.append((await request.body(), dict(request.headers)))
        return Response(status_code=answers.pop(0) if answers else 200)

    return app, received


async def test_webhook_delivery_signed_with_retries(tmp_path):
    receiver, received = webhook_receiver([500, 503])
    config = make_config(tmp_path, webhook_retry_base_seconds=0.0)
    with running_sandbox(app=receiver) as hook_url, running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            headers = await login(http, base_url, config.db_path)
            endpoint = (await http.post("/v1/webhooks", json={"url": f"{hook_url}/hooks",
                                                              "events": ["receivable.created"]},
                                        headers=headers)).json()
            await http.post("/v1/receivables", content=wire.dumps(receivable_body(demo_user_id(config.db_path))),
                            headers=headers)
            passes = [(await http.post("/sandbox/webhooks/deliver", headers=headers)).json() for _ in range(3)]
            assert [p["delivered"] for p in passes] == [0, 0, 1] and passes[0]["retrying"] == 1
            assert len(received) == 3
            raw, hook_headers = received[-1]
            expected = hmac.new(endpoint["secret"].encode(), raw, hashlib.sha256).hexdigest()
            assert hook_headers[SIGNATURE_HEADER.lower()] == expected
            event = wire.loads(raw)
            assert event["type"] == "receivable.created" and event["id"].startswith("evt_")
            assert set(event) == {"id", "type", "created_at", "data"}
            outbox = (await http.get("/sandbox/outbox", params={"type": "receivable.created"},
                                     headers=headers)).json()["data"]
            delivery = outbox[0]["deliveries"][0]
            assert delivery["status"] == "delivered" and delivery["attempts"] == 3


async def test_webhook_gives_up_after_eight_attempts(tmp_path):
    receiver, received = webhook_receiver([500] * 20)
    config = make_config(tmp_path, webhook_retry_base_seconds=0.0)
    with running_sandbox(app=receiver) as hook_url, running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            headers = await login(http, base_url, config.db_path)
            await http.post("/v1/webhooks", json={"url": f"{hook_url}/hooks", "events": ["user.*"]}, headers=headers)
            user = (await http.post("/v1/users", json={"email": "w@platform.example"}, headers=headers)).json()
            await http.post(f"/sandbox/users/{user['id']}/complete-onboarding", headers=headers)
            for _ in range(10):
                await http.post("/sandbox/webhooks/deliver", headers=headers)
            assert len(received) == 8
            stats = (await http.get("/sandbox/stats", headers=headers)).json()
            assert stats["deliveries"] == {"failed": 1}


async def test_background_delivery_loop(tmp_path):
    receiver, received = webhook_receiver([])
    config = make_config(tmp_path, webhook_delivery=True)
    with running_sandbox(app=receiver) as hook_url, running_sandbox(config) as base_url:
        async with httpx2.AsyncClient(base_url=base_url) as http:
            headers = await login(http, base_url, config.db_path)
            await http.post("/v1/webhooks", json={"url": f"{hook_url}/hooks", "events": ["receivable.*"]},
                            headers=headers)
            await http.post("/v1/receivables", content=wire.dumps(receivable_body(demo_user_id(config.db_path))),
                            headers=headers)
            for _ in range(100):
                if received:
                    break
                await asyncio.sleep(0.05)
            assert [wire.loads(raw)["type"] for raw, _ in received] == ["receivable.created"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_cli_serves_and_prints_credentials(tmp_path):
    db = tmp_path / "cli.sqlite3"
    port = _free_port()
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "cleavr_mcp.cli", "sandbox", "--port", str(port), "--db", str(db)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True,
    )
    try:
        lines = []
        while not any("demo creditor" in line for line in lines):
            line = process.stderr.readline()
            assert line, f"sandbox exited early: {''.join(lines)}"
            lines.append(line)
        text = "".join(lines)
        client_id, client_secret = sandbox_credentials(db)
        assert f"http://127.0.0.1:{port}" in text and client_id in text and client_secret in text
        assert demo_user_id(db) in text
        async with httpx2.AsyncClient() as http:
            for _ in range(100):
                try:
                    response = await http.get(f"http://127.0.0.1:{port}/openapi.json")
                    break
                except httpx2.ConnectError:
                    await asyncio.sleep(0.05)
            assert response.status_code == 200
            tokens = await sandbox_access_token(http, f"http://127.0.0.1:{port}", client_id, client_secret)
            user = (await http.get(f"http://127.0.0.1:{port}/v1/users/{demo_user_id(db)}",
                                   headers=api_headers(tokens["access_token"]))).json()
            assert user["onboarding_url"].startswith(f"http://127.0.0.1:{port}/onboarding/")
            cleverinvo = await http.get(f"http://127.0.0.1:{port}/cleverinvo/api/v1/invoices")
            assert cleverinvo.status_code == 401  # mounted, and asks for its own API key
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_asgi_transport_without_lifespan(tmp_path):
    """create_app is usable at once: no startup event is needed (ASGITransport runs none)."""
    config = make_config(tmp_path)
    app = create_app(config)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://x") as http:
        headers = await login(http, "http://x", config.db_path)
        assert (await http.get("/v1/receivables", headers=headers)).status_code == 200
    app.state.sandbox.close()
