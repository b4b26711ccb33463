"""The server's argument guard (server/tenancy.py), on the real server and the embedded sandbox: every id naming
another creditor — directly, through a receivable, an event or an extraction, at any depth — gets exactly the
answer a non-existent id gets, nothing is asked or written, and the refusal is audited with the principal."""

from __future__ import annotations

from typing import Any

import pytest

from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.storage import SQLITE_FILENAME
from cleavr_mcp.toolkit.store import audit_rows_in
from tests.server.conftest import admin, client, server, settings, token_server  # noqa: F401 - fixtures
from tests.server.test_tenancy_scope import new_creditor, new_receivable, tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio

MISSING_USER, MISSING_REC = "usr_clv_doesnotexist", "rec_doesnotexist"


def text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def same_answer(foreign: Any, missing: Any, foreign_id: str, missing_id: str) -> None:
    assert foreign.is_error and missing.is_error
    assert "NOT_FOUND" in text(foreign)
    assert text(foreign).replace(foreign_id, "X") == text(missing).replace(missing_id, "X")
    assert foreign.meta["cleavr-mcp/error"]["code"] == missing.meta["cleavr-mcp/error"]["code"] == "NOT_FOUND"


def receivable_body(user_id: str, number: str = "INV-G-1", **extra: Any) -> dict[str, Any]:
    from cleavr_mcp.testing import submission

    return {**submission(user_id, number=number, amount="100.00", phone="+33612345678"), **extra}


def cases(t: dict[str, Any]) -> list[tuple[str, str, Any, str, str]]:
    """(tool, label, arguments builder, foreign id, missing id): one argument position each."""
    a, rec_a = t["a"], t["rec_a"]
    return [
        ("get_user_status", "user_id", lambda x: {"user_id": x}, a, MISSING_USER),
        ("show_portfolio", "user_id", lambda x: {"user_id": x}, a, MISSING_USER),
        ("list_receivables", "user_id", lambda x: {"user_id": x}, a, MISSING_USER),
        ("get_receivable", "receivable_id", lambda x: {"receivable_id": x}, rec_a, MISSING_REC),
        ("cancel_receivable", "receivable_id", lambda x: {"receivable_id": x, "reason": "paid_directly"}, rec_a,
         MISSING_REC),
        ("add_contact", "receivable_id", lambda x: {"receivable_id": x, "contact": {"email": "x@example.test"}},
         rec_a, MISSING_REC),
        ("handle_partial_payment", "receivable_id", lambda x: {"receivable_id": x, "action": "accept"}, rec_a,
         MISSING_REC),
        ("update_receivable_metadata", "receivable_id", lambda x: {"receivable_id": x, "metadata": {"k": "v"}},
         rec_a, MISSING_REC),
        ("list_events", "receivable_id", lambda x: {"receivable_id": x}, rec_a, MISSING_REC),
        ("ack_event", "receivable_id", lambda x: {"receivable_id": x}, rec_a, MISSING_REC),
        ("submit_receivable", "receivable.user_id", lambda x: {"receivable": receivable_body(x)}, a, MISSING_USER),
        # A batch whose second row is another creditor's: the whole call is refused, the first row not sent.
        ("submit_receivables_batch", "receivables[1].user_id",
         lambda x: {"receivables": [receivable_body(t["b"], "INV-G-OK"), receivable_body(x, "INV-G-2")]}, a,
         MISSING_USER),
    ]


async def test_foreign_ids_get_the_answer_of_missing_ids_and_nothing_happens(server, settings, admin, tenants):
    before = await admin.get("/v1/receivables", limit=100)
    with acting_as(tenants["B"]):
        async with client(server) as c:
            for tool, label, build, foreign_id, missing_id in cases(tenants):
                foreign = await c.call_tool(tool, build(foreign_id))
                assert foreign.is_error, (tool, label, foreign.content)
                missing = await c.call_tool(tool, build(missing_id))
                same_answer(foreign, missing, foreign_id, missing_id)
            own = await c.call_tool("get_receivable", {"receivable_id": tenants["rec_b"]})
            own_user = await c.call_tool("get_user_status", {"user_id": tenants["b"]})
    assert not own.is_error and not own_user.is_error  # its own ids work
    after = await admin.get("/v1/receivables", limit=100)
    assert [r["id"] for r in after["data"]] == [r["id"] for r in before["data"]]  # nothing submitted
    rows = audit_rows_in(settings.data_dir / SQLITE_FILENAME)
    refusals = [r for r in rows if (r.error_code or "").startswith("OUT_OF_SCOPE")]
    assert len(refusals) == 2 * len(cases(tenants)) and {r.principal for r in refusals} == {"beta"}
    assert {r.outcome for r in refusals} == {"refused"}
    assert not [r for r in rows if r.outcome in ("done", "confirmation_required")]  # nothing asked nor written
    from cleavr_mcp.server.approvals.store import ApprovalStore

    store = ApprovalStore(settings.data_dir / SQLITE_FILENAME)
    try:
        assert await store.db.fetchall("SELECT id_sha256 FROM approvals") == []  # no approval opened
    finally:
        await store.close()


LOOKALIKES = {
    "upper case": str.upper,
    "trailing space": lambda x: x + " ",
    "leading tab": lambda x: "\t" + x,
    "cyrillic a": lambda x: x.replace("a", "\u0430", 1) if "a" in x else "\u0430" + x,
    "zero-width space": lambda x: x[:4] + "\u200b" + x[4:],
    "fullwidth digit": lambda x: x + "\uff11",
}


@pytest.mark.parametrize("variant", sorted(LOOKALIKES))
async def test_ids_that_only_look_like_the_callers_own_are_not_theirs(server, tenants, variant):
    spell = LOOKALIKES[variant]
    user, rec = spell(tenants["b"]), spell(tenants["rec_b"])
    with acting_as(tenants["B"]):
        async with client(server) as c:
            as_user = await c.call_tool("get_user_status", {"user_id": user})
            missing_user = await c.call_tool("get_user_status", {"user_id": MISSING_USER})
            as_rec = await c.call_tool("cancel_receivable", {"receivable_id": rec, "reason": "paid_directly"})
    same_answer(as_user, missing_user, user, MISSING_USER)
    assert as_rec.is_error and ("NOT_FOUND" in text(as_rec) or "VALIDATION_ERROR" in text(as_rec))


async def test_events_and_extractions_through_their_owner(server, settings, tenants):
    from cleavr_mcp.events.store import EventInbox

    inbox = EventInbox(settings.data_dir / SQLITE_FILENAME)
    try:
        for event_id, rec, owner in (("evt_of_a", tenants["rec_a"], tenants["a"]),
                                     ("evt_of_b", tenants["rec_b"], tenants["b"])):
            await inbox.record(event_id=event_id, event_type="receivable.disputed", body="{}", source="webhook",
                               receivable_id=rec, user_id=owner)
    finally:
        await inbox.close()
    with acting_as(tenants["B"]):
        async with client(server) as c:
            foreign = await c.call_tool("ack_event", {"event_ids": ["evt_of_b", "evt_of_a"]})
            missing = await c.call_tool("ack_event", {"event_ids": ["evt_of_b", "evt_nope"]})
            own = await c.call_tool("ack_event", {"event_ids": ["evt_of_b"]})
            unknown_extraction = await c.call_tool("submit_receivable", {
                "receivable": receivable_body(tenants["b"], extraction_id="ext_of_someone")})
            other_missing = await c.call_tool("submit_receivable", {
                "receivable": receivable_body(tenants["b"], extraction_id="ext_nope")})
    same_answer(foreign, missing, "evt_of_a", "evt_nope")
    assert not own.is_error and own.structured_content["acknowledged"] == ["evt_of_b"]
    same_answer(unknown_extraction, other_missing, "ext_of_someone", "ext_nope")
    inbox = EventInbox(settings.data_dir / SQLITE_FILENAME)
    try:
        assert (await inbox.get("evt_of_a")).handled_at is None  # A's event untouched by B's refused call
    finally:
        await inbox.close()


async def test_every_creditor_principals_skip_the_guard(server, tenants):
    everyone = Principal(name="platform", user_ids=None, source="principals-file")
    with acting_as(everyone):
        async with client(server) as c:
            found = await c.call_tool("get_receivable", {"receivable_id": tenants["rec_a"]})
    assert not found.is_error


async def test_a_confirmation_token_is_bound_to_its_principal(token_server, tenants):
    """Two principals acting for the same creditor: one's token is useless to the other (same words as forged)."""
    first = Principal(name="acme-desk", user_ids=frozenset({tenants["a"]}), source="principals-file")
    second = Principal(name="acme-app", user_ids=frozenset({tenants["a"]}), source="principals-file")
    args = {"receivable_id": tenants["rec_a"], "reason": "paid_directly"}
    with acting_as(first):
        async with client(token_server) as c:
            asked = await c.call_tool("cancel_receivable", args)
    assert asked.structured_content["status"] == "confirmation_required", asked.content
    token = asked.structured_content["confirmation"]["confirmation_token"]
    with acting_as(second):
        async with client(token_server) as c:
            stolen = await c.call_tool("cancel_receivable", {**args, "confirmation_token": token})
    assert stolen.is_error and "CONFIRMATION_INVALID" in text(stolen) and "(forged)" in text(stolen)
    with acting_as(first):
        async with client(token_server) as c:
            used = await c.call_tool("cancel_receivable", {**args, "confirmation_token": token})
    assert not used.is_error and used.structured_content["status"] == "done", used.content


async def test_a_pending_approval_is_bound_to_its_principal(settings, tenants, monkeypatch):
    """A person approved principal acme-desk's write on the page: the same call by acme-app (same creditor, same
    arguments) does not ride on that decision — it opens its own — and acme-desk's next call spends it once."""
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.approvals import browser

    server = build_server(settings.model_copy(update={"approval_wait_seconds": 0}))  # answer pending at once
    urls: list[str] = []
    monkeypatch.setattr(browser, "open_url", lambda url: urls.append(url) or True)
    desk = Principal(name="acme-desk", user_ids=frozenset({tenants["a"]}), source="principals-file")
    app = Principal(name="acme-app", user_ids=frozenset({tenants["a"]}), source="principals-file")
    args = {"receivable_id": tenants["rec_a"], "reason": "paid_directly"}
    async with client(server) as c:
        with acting_as(desk):
            first = await c.call_tool("cancel_receivable", args)
        assert first.structured_content["status"] == "approval_pending", first.content
        approval_id = urls[-1].rsplit("/", 1)[-1]
        assert await server.approvals.decide(approval_id, approved=True, answers={"confirm": True})
        with acting_as(app):
            other = await c.call_tool("cancel_receivable", args)
        assert other.structured_content["status"] == "approval_pending", other.content  # asked anew
        assert len(urls) == 2 and urls[-1] != urls[0]
        with acting_as(desk):
            done = await c.call_tool("cancel_receivable", args)
        assert not done.is_error and done.structured_content["status"] == "done", done.content


async def test_a_scoped_call_outside_a_request_fails_closed(server, tenants):
    with acting_as(tenants["B"]):
        result = await server.call_tool("get_receivable", {"receivable_id": tenants["rec_a"]})
    assert result.is_error and "TOOL_NOT_ALLOWED" in text(result)
