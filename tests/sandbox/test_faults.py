"""Fault injection and rate limiting, in-process (the real-HTTP versions are in test_http.py)."""

from __future__ import annotations

import time

import httpx2
import pytest

from cleavr_mcp.sandbox.edge import ConnectionDropped
from cleavr_mcp.sandbox.testing import api_headers, sandbox_access_token

from .conftest import BASE, make_config, open_sandbox, receivable_body

pytestmark = pytest.mark.anyio


async def set_faults(box, **settings):
    response = await box.http.put("/sandbox/faults", json=settings, headers=box.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def receivables_total(box) -> int:
    return (await box.get("/sandbox/stats")).json()["receivables"]["total"]


async def test_5xx_happens_before_any_work(sandbox):
    await set_faults(sandbox, fault_5xx_rate=1.0)
    response = await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id))
    assert response.status_code == 503
    assert sandbox.error(response)["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["request-id"].startswith("req_")
    # Faults never touch /sandbox nor (by default) /oauth.
    assert await receivables_total(sandbox) == 0
    assert (await sandbox_access_token(sandbox.http, BASE, sandbox.client_id, sandbox.client_secret))["access_token"]
    await set_faults(sandbox)
    assert (await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id))).status_code == 201


async def test_injected_429_with_retry_after(sandbox):
    await set_faults(sandbox, fault_429_rate=1.0, retry_after_seconds=0)
    response = await sandbox.get("/v1/receivables")
    assert response.status_code == 429 and response.headers["retry-after"] == "0"
    assert sandbox.error(response)["code"] == "RATE_LIMITED"
    await set_faults(sandbox, fault_429_rate=1.0)
    assert (await sandbox.get("/v1/receivables")).headers["retry-after"] == "1"


async def test_latency(sandbox):
    await set_faults(sandbox, latency_ms=150)
    start = time.monotonic()
    assert (await sandbox.get("/v1/receivables")).status_code == 200
    assert time.monotonic() - start >= 0.15
    start = time.monotonic()
    await sandbox.get("/sandbox/stats")
    assert time.monotonic() - start < 0.15


async def test_drop_commits_then_fails_at_transport_level(sandbox):
    await set_faults(sandbox, next_faults=["drop"])
    body = receivable_body(sandbox.user_id)
    with pytest.raises(httpx2.TransportError) as caught:
        await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "drop-1"})
    assert isinstance(caught.value, (ConnectionDropped, httpx2.RemoteProtocolError))
    listed = (await sandbox.get("/v1/receivables")).json()["data"]
    assert len(listed) == 1  # the write happened although the client saw no answer
    retry = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "drop-1"})
    assert retry.status_code == 201 and retry.json()["id"] == listed[0]["id"]
    assert retry.headers["idempotent-replayed"] == "true"


async def test_forced_fault_queue_then_normal(sandbox):
    state = await set_faults(sandbox, next_faults=["5xx", "429"], retry_after_seconds=0)
    assert state["next_faults"] == ["5xx", "429"]
    codes = [(await sandbox.get("/v1/receivables")).status_code for _ in range(3)]
    assert codes == [503, 429, 200]
    assert (await sandbox.get("/sandbox/faults")).json()["next_faults"] == []


async def test_seeded_faults_are_deterministic(sandbox):
    async def run() -> list[int]:
        await set_faults(sandbox, fault_5xx_rate=0.3, fault_429_rate=0.3, retry_after_seconds=0, fault_seed=7)
        return [(await sandbox.get("/v1/receivables")).status_code for _ in range(20)]

    first, second = await run(), await run()
    assert first == second
    assert {503, 429, 200} <= set(first)


async def test_faults_on_oauth_when_asked(sandbox):
    await set_faults(sandbox, fault_5xx_rate=1.0, faults_on_oauth=True)
    response = await sandbox.http.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert response.status_code == 503


async def test_fault_settings_validation(sandbox):
    response = await sandbox.http.put("/sandbox/faults", json={"fault_5xx_rate": 2}, headers=sandbox.headers)
    assert response.status_code == 400 and sandbox.error(response)["field"] == "fault_5xx_rate"
    response = await sandbox.http.put("/sandbox/faults", json={"next_faults": ["meteor"]}, headers=sandbox.headers)
    assert response.status_code == 400


async def test_faults_from_config(tmp_path):
    box = await open_sandbox(make_config(tmp_path, fault_429_rate=1.0, retry_after_seconds=0))
    try:
        response = await box.get("/v1/receivables")
        assert response.status_code == 429 and response.headers["retry-after"] == "0"
    finally:
        await box.http.aclose()
        box.app.state.sandbox.close()


async def test_rate_limit_per_token(tmp_path):
    box = await open_sandbox(make_config(tmp_path, rate_limit_per_second=5))
    try:
        codes = [(await box.get("/v1/receivables")).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        limited = await box.get("/v1/receivables")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        assert box.error(limited)["details"]["limit_per_second"] == 5
        other = await sandbox_access_token(box.http, BASE, box.client_id, box.client_secret)
        assert (await box.http.get("/v1/receivables", headers=api_headers(other["access_token"]))).status_code == 200
        # Runtime change of the limit.
        await box.http.put("/sandbox/faults", json={"rate_limit_per_second": 1000}, headers=box.headers)
        assert (await box.get("/v1/receivables")).status_code == 200
    finally:
        await box.http.aclose()
        box.app.state.sandbox.close()
