"""A person's answer is single-use: replaying a finished 2026-07-28 elicitation round (same request_state, same
answer, inside its validity) is refused and audited; and only JSON true ticks a box ("yes", "on", 1, "1" do not)."""

from __future__ import annotations

import pytest
from mcp.types import ElicitResult, InputRequiredResult

from cleavr_mcp.toolkit.errors import error_of
from tests.deploy.conftest import audit_rows

from .conftest import Human, client, demo_user, submission

pytestmark = pytest.mark.anyio


async def _answer_round(session, body, content):
    first = await session.call_tool("submit_receivable", {"receivable": body}, allow_input_required=True)
    assert isinstance(first, InputRequiredResult), first
    responses = {key: ElicitResult(action="accept", content=content) for key in first.input_requests}
    return first.request_state, responses


async def test_a_replayed_round_is_refused(server, settings, admin):
    body = submission(demo_user(settings))
    async with client(server, human=Human()) as c:
        state, responses = await _answer_round(c.session, body, {"confirm": True})
        done = await c.session.call_tool("submit_receivable", {"receivable": body}, input_responses=responses,
                                         request_state=state, allow_input_required=True)
        replay = await c.session.call_tool("submit_receivable", {"receivable": body}, input_responses=responses,
                                           request_state=state, allow_input_required=True)
    assert not done.is_error and done.structured_content["status"] == "done", done
    assert replay.is_error, replay
    assert error_of(replay)["code"] == "CONFIRMATION_INVALID" and "already used" in error_of(replay)["message"]
    assert [(r.outcome, r.error_code) for r in audit_rows(settings)][-1] == ("refused", "ANSWER_REPLAYED")
    assert await admin.receivable_count() == 1


async def test_a_replayed_evidence_round_is_refused_for_a_new_dispute(server, settings, admin):
    from tests.server.test_tools_flow import _tiny_pdf

    rid = await admin.create_receivable(demo_user(settings), "INV-REPLAY-1")
    await admin.advance(rid, "dispute", reason="service_not_delivered", debtor_message="No.")
    doc = settings.allowed_roots[0] / "receipt.pdf"
    doc.write_bytes(_tiny_pdf())
    args = {"receivable_id": rid, "statement": "Delivered on time, receipt attached.",
            "documents": [{"type": "delivery_confirmation", "path": str(doc), "description": "receipt"}]}
    async with client(server, human=Human()) as c:
        first = await c.session.call_tool("submit_evidence", args, allow_input_required=True)
        assert isinstance(first, InputRequiredResult), first
        responses = {k: ElicitResult(action="accept", content={"confirm": True}) for k in first.input_requests}
        done = await c.session.call_tool("submit_evidence", args, input_responses=responses,
                                         request_state=first.request_state, allow_input_required=True)
        assert not done.is_error, done
        await admin.advance(rid, "dispute", reason="service_not_delivered", debtor_message="Still no.")
        replay = await c.session.call_tool("submit_evidence", args, input_responses=responses,
                                           request_state=first.request_state, allow_input_required=True)
    assert replay.is_error and error_of(replay)["code"] == "CONFIRMATION_INVALID", replay
    status = (await admin.get(f"/v1/receivables/{rid}"))["status"]
    assert status == "disputed"  # the second dispute got no evidence without a new answer


@pytest.mark.parametrize("ticked", ["yes", "on", "true", 1, "1", "True", 1.0, "y"])
async def test_only_json_true_ticks_the_box(server, settings, admin, ticked):
    human = Human(content={"confirm": ticked})
    async with client(server, human=human) as c:
        result = await c.call_tool("submit_receivable", {"receivable": submission(demo_user(settings))})
    assert result.is_error or result.structured_content["status"] != "done", result
    assert await admin.receivable_count() == 0
