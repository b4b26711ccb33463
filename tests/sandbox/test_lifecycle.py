"""The receivable state machine, table-driven over contract.TRANSITIONS, and the events each change emits."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.contract import (
    CANCELLABLE_STATUSES,
    EVIDENCE_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    ReceivableStatus,
)
from cleavr_mcp.sandbox import ops

pytestmark = pytest.mark.anyio
S = ReceivableStatus

# Each action, the statuses the contract allows it from, and where it leads.
TARGET = {
    "start_recovery": S.IN_PROCESS,
    "record_payment": S.PAYMENT_RECEIVED,
    "dispute": S.DISPUTED,
    "request_evidence": S.EVIDENCE_REQUESTED,
    "confirm_recovery": S.RECOVERED,
    "cancel": S.CANCELLED,
    "submit_evidence": S.IN_PROCESS,
}
ALLOWED_FROM = {
    "start_recovery": {S.PENDING},
    "record_payment": {S.IN_PROCESS},
    "dispute": {S.IN_PROCESS},
    "request_evidence": {S.DISPUTED},
    "confirm_recovery": {S.PAYMENT_RECEIVED},
    "cancel": set(CANCELLABLE_STATUSES),
    "submit_evidence": set(EVIDENCE_STATUSES),
}
PATH_TO = {
    S.PENDING: [],
    S.IN_PROCESS: ["start_recovery"],
    S.PAYMENT_RECEIVED: ["start_recovery", "record_payment"],
    S.RECOVERED: ["start_recovery", "record_payment", "confirm_recovery"],
    S.DISPUTED: ["start_recovery", "dispute"],
    S.EVIDENCE_REQUESTED: ["start_recovery", "dispute", "request_evidence"],
    S.CANCELLED: ["cancel"],
}
EDGES = {(frm, to) for frm, targets in TRANSITIONS.items() for to in targets}
SPECIFIC_EVENT = {
    "record_payment": "payment.received",
    "dispute": "receivable.disputed",
    "request_evidence": "receivable.evidence_requested",
    "confirm_recovery": "receivable.recovered",
    "cancel": "receivable.cancelled",
}
EVIDENCE = {
    "documents": [{"type": "delivery_confirmation", "filename": "receipt.pdf",
                   "content_base64": base64.b64encode(b"%PDF-1.4 signed receipt").decode(),
                   "description": "Signed delivery receipt"}],
    "statement": "Products were delivered on Jan 15, as confirmed by the attached signed receipt.",
}


def test_actions_cover_exactly_the_contract_edges():
    covered = {(frm, TARGET[a]) for a, froms in ALLOWED_FROM.items() for frm in froms}
    # Evidence sent while `disputed` passes through evidence_requested (two edges), everything else is one edge.
    assert covered - EDGES == {(S.DISPUTED, S.IN_PROCESS)}
    assert EDGES <= covered
    for name, (allowed, to) in ops.ALL_ACTIONS.items():
        if to is not None:
            assert set(allowed) == ALLOWED_FROM[name] and to == TARGET[name], name


async def act(box, receivable_id: str, action: str):
    if action == "cancel":
        return await box.post(f"/v1/receivables/{receivable_id}/cancel", {"reason": "business_decision",
                                                                           "notes": "test"})
    if action == "submit_evidence":
        return await box.post(f"/v1/receivables/{receivable_id}/evidence", EVIDENCE)
    return await box.advance(receivable_id, action)


async def reach(box, status: S, number: str) -> str:
    receivable_id = (await box.create(number))["id"]
    for step in PATH_TO[status]:
        response = await act(box, receivable_id, step)
        assert response.status_code == 200, response.text
    assert (await box.get(f"/v1/receivables/{receivable_id}")).json()["status"] == status
    return receivable_id


@pytest.mark.parametrize("status", list(S))
async def test_every_action_from_every_status(sandbox, status):
    for i, action in enumerate(TARGET):
        receivable_id = await reach(sandbox, status, f"SM-{status}-{i}")
        before = await sandbox.outbox(receivable_id=receivable_id)
        response = await act(sandbox, receivable_id, action)
        after = await sandbox.outbox(receivable_id=receivable_id)
        new_events = after[len(before):]
        if status in ALLOWED_FROM[action]:
            assert response.status_code == 200, (status, action, response.text)
            assert response.json()["status"] == TARGET[action]
            changes = [(e["data"]["from"], e["data"]["to"]) for e in new_events
                       if e["type"] == "receivable.status_changed"]
            assert changes and all(edge in EDGES for edge in changes), changes
            assert changes[0][0] == status and changes[-1][1] == TARGET[action]
            if action in SPECIFIC_EVENT:
                assert SPECIFIC_EVENT[action] in [e["type"] for e in new_events]
        else:
            assert response.status_code == 409, (status, action, response.text)
            error = sandbox.error(response)
            assert error["code"] == "INVALID_STATE"
            assert f"`{status}`" in error["message"]
            assert error["details"]["current_status"] == status
            public, _ = ops.actions_from(status)
            assert error["details"]["allowed_actions"] == public
            assert new_events == []  # nothing emitted, nothing changed
            assert (await sandbox.get(f"/v1/receivables/{receivable_id}")).json()["status"] == status


async def test_terminal_statuses_have_no_public_transition(sandbox):
    for status in TERMINAL_STATUSES:
        public, sandbox_actions = ops.actions_from(status)
        assert public == ["update_metadata"] and sandbox_actions == []


async def test_recovery_progress_and_dispute_payload(sandbox):
    receivable_id = (await sandbox.create())["id"]
    started = (await sandbox.advance(receivable_id, "start_recovery")).json()
    progress = started["recovery_progress"]
    assert progress["emails_sent"] == 1 and progress["next_action"] == "phone_call"
    assert progress["last_contact"].endswith("Z") and started["estimated_recovery_date"]
    disputed = await sandbox.advance(receivable_id, "dispute", reason="amount_incorrect",
                                     debtor_message="We were billed twice", evidence_requested=["invoice"])
    assert disputed.status_code == 200
    body = disputed.json()
    assert body["dispute"]["reason"] == "amount_incorrect" and body["recovery_progress"]["next_action"] is None
    event = (await sandbox.outbox(type="receivable.disputed"))[0]
    assert event["data"] == {"receivable_id": receivable_id, "dispute": {
        "reason": "amount_incorrect", "debtor_message": "We were billed twice", "evidence_requested": ["invoice"]}}
    bad = await sandbox.advance(receivable_id, "request_evidence", evidence_requested=["photos"])
    assert bad.status_code == 400 and sandbox.error(bad)["field"] == "evidence_requested[0]"
    asked = await sandbox.advance(receivable_id, "request_evidence",
                                  evidence_requested=["signed_contract", "timesheet"])
    assert asked.json()["dispute"]["evidence_requested"] == ["signed_contract", "timesheet"]
    event = (await sandbox.outbox(type="receivable.evidence_requested"))[0]
    assert event["data"]["evidence_requested"] == ["signed_contract", "timesheet"]
    done = await sandbox.post(f"/v1/receivables/{receivable_id}/evidence", EVIDENCE)
    body = done.json()
    assert body["status"] == "in_process" and body["recovery_progress"]["next_action"] == "phone_call"
    assert body["evidence"][0]["documents"][0]["size_bytes"] == len(b"%PDF-1.4 signed receipt")


async def test_partial_payment_continue_then_complete(sandbox):
    receivable_id = (await sandbox.create())["id"]
    await sandbox.advance(receivable_id, "start_recovery")
    no_partial = await sandbox.post(f"/v1/receivables/{receivable_id}/partial-payment",
                                    {"action": "continue_recovery"})
    assert no_partial.status_code == 409 and "no partial payment" in sandbox.error(no_partial)["message"]
    missing = await sandbox.advance(receivable_id, "partial_payment")
    assert missing.status_code == 400 and sandbox.error(missing)["field"] == "paid_amount"
    too_much = await sandbox.advance(receivable_id, "partial_payment", paid_amount="5000.00")
    assert too_much.status_code == 400

    paid = await sandbox.advance(receivable_id, "partial_payment", paid_amount="3000.00")
    assert paid.status_code == 200 and paid.json()["status"] == "in_process"
    event = (await sandbox.outbox(type="receivable.partial_payment"))[-1]
    assert event["data"] == {"receivable_id": receivable_id, "original_amount": 5000, "paid_amount": 3000,
                             "remaining_amount": 2000, "action_required": "platform_decision"}
    again = await sandbox.advance(receivable_id, "partial_payment", paid_amount="100.00")
    assert again.status_code == 409  # the first one awaits a decision

    decided = await sandbox.post(f"/v1/receivables/{receivable_id}/partial-payment",
                                 {"action": "continue_recovery", "notes": "Continue recovering remaining €2000"})
    assert decided.status_code == 200
    body = wire.loads(decided.content)
    assert body["status"] == "in_process" and body["partial_payment"]["remaining_amount"] == Decimal("2000.00")
    twice = await sandbox.post(f"/v1/receivables/{receivable_id}/partial-payment", {"action": "mark_complete"})
    assert twice.status_code == 409

    await sandbox.advance(receivable_id, "partial_payment", paid_amount="500.00")
    event = (await sandbox.outbox(type="receivable.partial_payment"))[-1]
    assert (event["data"]["paid_amount"], event["data"]["remaining_amount"]) == (3500, 1500)
    complete = await sandbox.post(f"/v1/receivables/{receivable_id}/partial-payment", {"action": "mark_complete"})
    assert complete.json()["status"] == "payment_received"
    payment = (await sandbox.outbox(type="payment.received"))[-1]
    assert payment["data"]["amount"] == 3500 and payment["data"]["accepted_as_complete"] is True
    recovered = await sandbox.advance(receivable_id, "confirm_recovery")
    assert wire.loads(recovered.content)["recovered_amount"] == Decimal("3500.00")


async def test_full_payment_settles_a_pending_partial(sandbox):
    receivable_id = (await sandbox.create())["id"]
    await sandbox.advance(receivable_id, "start_recovery")
    await sandbox.advance(receivable_id, "partial_payment", paid_amount="1000.00")
    paid = await sandbox.advance(receivable_id, "record_payment")
    assert paid.json()["status"] == "payment_received" and paid.json()["partial_payment"]["status"] == "settled"
    event = (await sandbox.outbox(type="payment.received"))[-1]
    assert event["data"]["amount"] == 4000 and event["data"]["total_paid"] == 5000


async def test_cancel_requires_a_documented_reason(sandbox):
    receivable_id = (await sandbox.create())["id"]
    for body, field in [({}, "reason"), ({"reason": "tired"}, "reason"), ({"reason": "paid_directly", "x": 1}, "x")]:
        response = await sandbox.post(f"/v1/receivables/{receivable_id}/cancel", body)
        assert response.status_code == 400 and sandbox.error(response)["field"] == field
    ok = await sandbox.post(f"/v1/receivables/{receivable_id}/cancel", {"reason": "paid_directly", "notes": "bank"})
    assert ok.json()["cancellation"]["reason"] == "paid_directly"
    event = (await sandbox.outbox(type="receivable.cancelled"))[0]
    assert event["data"] == {"receivable_id": receivable_id, "reason": "paid_directly", "notes": "bank"}


async def test_evidence_checks(sandbox, monkeypatch):
    receivable_id = (await sandbox.create())["id"]
    await sandbox.advance(receivable_id, "start_recovery")
    await sandbox.advance(receivable_id, "dispute")
    path = f"/v1/receivables/{receivable_id}/evidence"

    def with_document(**changes):
        return {**EVIDENCE, "documents": [{**EVIDENCE["documents"][0], **changes}]}

    bad64 = await sandbox.post(path, with_document(content_base64="not base64!"))
    assert bad64.status_code == 400 and sandbox.error(bad64)["field"] == "documents[0].content_base64"
    empty = await sandbox.post(path, with_document(content_base64=""))
    assert sandbox.error(empty)["code"] == "INVALID_FILE"
    bad_type = await sandbox.post(path, with_document(type="selfie"))
    assert sandbox.error(bad_type)["field"] == "documents[0].type"
    eleven = await sandbox.post(path, {**EVIDENCE, "documents": EVIDENCE["documents"] * 11})
    assert eleven.status_code == 400 and sandbox.error(eleven)["field"] == "documents"
    monkeypatch.setattr("cleavr_mcp.sandbox.api.MAX_FILE_BYTES", 10)
    big = await sandbox.post(path, with_document(content_base64=base64.b64encode(b"x" * 11).decode()))
    assert big.status_code == 400 and sandbox.error(big)["code"] == "INVALID_FILE"
    assert (await sandbox.get(f"/v1/receivables/{receivable_id}")).json()["status"] == "disputed"


async def test_onboarding_completion_emits_event_and_requirements_clear(sandbox):
    created = await sandbox.post("/v1/users", {"email": "kyb@platform.example",
                                               "company": {"name": "Acme SAS", "siret": "73282932000074"}})
    user = created.json()
    status = (await sandbox.get(f"/v1/users/{user['id']}/onboarding-status")).json()
    assert status == {"user_id": user["id"], "status": "pending_onboarding",
                      "capabilities": {"send_receivables": False}, "onboarding_url": user["onboarding_url"]}
    due = (await sandbox.get(f"/v1/users/{user['id']}/requirements")).json()
    codes = [r["code"] for r in due["currently_due"]]
    assert "company.address" in codes and "company.siret" not in codes and due["pending_review"] == []
    review = await sandbox.post(f"/sandbox/users/{user['id']}/complete-onboarding", {"status": "in_review"})
    assert review.json()["status"] == "in_review"
    due = (await sandbox.get(f"/v1/users/{user['id']}/requirements")).json()
    assert due["currently_due"] == [] and due["pending_review"]
    assert await sandbox.outbox(type="user.onboarding.completed") == []
    done = await sandbox.post(f"/sandbox/users/{user['id']}/complete-onboarding", {})
    assert done.json()["capabilities"] == {"send_receivables": True}
    events = await sandbox.outbox(type="user.*")
    assert [e["data"]["user_id"] for e in events] == [user["id"]]
    due = (await sandbox.get(f"/v1/users/{user['id']}/requirements")).json()
    assert due == {"currently_due": [], "pending_review": []}
