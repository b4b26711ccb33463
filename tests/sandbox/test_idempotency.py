"""Idempotency-Key: replay, mismatch, errors not stored, concurrent same-key requests (contract §4.2 + decisions)."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from cleavr_mcp.cleavr.contract import IDEMPOTENT_REPLAYED_HEADER

from .conftest import receivable_body

pytestmark = pytest.mark.anyio


async def test_replay_returns_the_first_answer(sandbox):
    body = receivable_body(sandbox.user_id)
    body["invoice"]["amount"] = Decimal("5000.00")
    first = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "platform-inv-12345"})
    assert first.status_code == 201 and IDEMPOTENT_REPLAYED_HEADER not in first.headers
    # Same body, different spelling of the numbers and key order: still the same request.
    body["invoice"]["amount"] = Decimal("5000.0")
    second = await sandbox.post("/v1/receivables", dict(reversed(list(body.items()))),
                                **{"Idempotency-Key": "platform-inv-12345"})
    assert second.status_code == 201
    assert second.headers[IDEMPOTENT_REPLAYED_HEADER] == "true"
    assert second.content == first.content
    assert (await sandbox.get("/sandbox/stats")).json()["receivables"]["total"] == 1


async def test_same_key_different_body_is_refused(sandbox):
    first = await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id), **{"Idempotency-Key": "k1"})
    other = await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id, "INV-OTHER"),
                               **{"Idempotency-Key": "k1"})
    assert other.status_code == 409
    error = sandbox.error(other)
    assert error["code"] == "IDEMPOTENCY_KEY_REUSED" and error["details"]["receivable_id"] == first.json()["id"]
    # The key is bound to its endpoint too.
    elsewhere = await sandbox.post("/v1/users", {"email": "k1@platform.example"}, **{"Idempotency-Key": "k1"})
    assert elsewhere.status_code == 409


async def test_errors_are_not_stored(sandbox):
    body = receivable_body(sandbox.user_id)
    body["debtor"]["contacts"][0].pop("phone")
    warned = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "k-warn"})
    assert warned.status_code == 422
    # The corrected retry with the same key goes through (the error had no effect).
    accepted = await sandbox.post("/v1/receivables", {**body, "force_proceed": True}, **{"Idempotency-Key": "k-warn"})
    assert accepted.status_code == 201


async def test_replay_survives_business_rules(sandbox):
    """A retry after success must not turn into DUPLICATE_RECEIVABLE."""
    body = receivable_body(sandbox.user_id)
    first = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "k-dup"})
    replay = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "k-dup"})
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    fresh = await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "k-dup-2"})
    assert fresh.status_code == 409 and sandbox.error(fresh)["code"] == "DUPLICATE_RECEIVABLE"


async def test_keys_are_scoped_and_validated(sandbox):
    bad = await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id), **{"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400 and sandbox.error(bad)["code"] == "VALIDATION_ERROR"


async def test_batch_and_lifecycle_posts_are_idempotent(sandbox):
    items = {"receivables": [receivable_body(sandbox.user_id, f"BI-{i}") for i in range(3)]}
    first = await sandbox.post("/v1/receivables/batch", items, **{"Idempotency-Key": "batch-1"})
    again = await sandbox.post("/v1/receivables/batch", items, **{"Idempotency-Key": "batch-1"})
    assert again.content == first.content and again.headers[IDEMPOTENT_REPLAYED_HEADER] == "true"
    receivable_id = first.json()["successful"][0]["id"]
    cancel = {"reason": "paid_directly"}
    one = await sandbox.post(f"/v1/receivables/{receivable_id}/cancel", cancel, **{"Idempotency-Key": "c-1"})
    two = await sandbox.post(f"/v1/receivables/{receivable_id}/cancel", cancel, **{"Idempotency-Key": "c-1"})
    assert one.status_code == two.status_code == 200 and two.headers[IDEMPOTENT_REPLAYED_HEADER] == "true"
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["receivables"]["total"] == 3 and stats["receivables"]["by_status"]["cancelled"] == 1


async def test_twenty_concurrent_requests_create_one_receivable(sandbox):
    body = receivable_body(sandbox.user_id)
    responses = []

    async def send():
        responses.append(await sandbox.post("/v1/receivables", body, **{"Idempotency-Key": "concurrent"}))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(send)
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get(IDEMPOTENT_REPLAYED_HEADER) == "true" for r in responses) == 19
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["receivables"]["total"] == 1 and stats["events"] == 1
