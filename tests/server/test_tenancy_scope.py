"""What a principal acting for some creditors sees (#15, scope): lists, the portfolio, the timeline, the event
inbox, resources, subscriptions, completions, prompts and the instructions, with two (or three) creditors on the
embedded sandbox. The full cross-tenant HTTP matrix is tests/tenancy/; these are the filters one by one.

The principal is set around the in-memory client (`acting_as`): the server's handlers run in its context.
"""

from __future__ import annotations

import json
import warnings
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference, ResourceUpdatedNotification

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings
from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.events.hub import UNHANDLED_URI, receivable_uri
from cleavr_mcp.events.receiver import receive
from cleavr_mcp.server.app import build_server

from .conftest import client, demo_user, submission

pytestmark = pytest.mark.anyio
SECRET = "whsec_tenancy_scope_0123456789"
A_COMPLAINT = "Alpha never delivered the pallets"

A_DEBTOR, A_AMOUNT, A_INVOICE = "Alpha Fabrication SARL", "1234.56", "INV-ALPHA-0001"
B_DEBTOR, B_AMOUNT, B_INVOICE = "Beta Logistique SAS", "777.00", "INV-BETA-0001"


def scoped(name: str, *user_ids: str) -> Principal:
    return Principal(name=name, user_ids=frozenset(user_ids), source="principals-file")


async def new_creditor(admin, email: str) -> str:
    user = await admin.post("/v1/users", {"email": email})
    await admin.post(f"/sandbox/users/{user['id']}/complete-onboarding", {})
    return user["id"]


async def new_receivable(admin, user_id: str, number: str, amount: str = "5000.00", debtor: str = "Debtor Corp",
                         start: bool = True) -> str:
    body = submission(user_id, number=number, amount=amount, phone="+33612345678")
    body["debtor"]["company_name"] = debtor
    rec = await admin.post("/v1/receivables", body, **{"Idempotency-Key": number})
    if start:
        await admin.advance(rec["id"], "start_recovery")
    return rec["id"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs], webhook_secret=SECRET)


@pytest.fixture
def server(settings):
    """Each in-memory connection runs as the principal it was opened under (`acting_as` around the client): the
    server's own principal middleware, which maps HTTP credentials (none in memory) to principals, is left out."""
    built = build_server(settings)
    middleware = built._lowlevel_server.middleware
    middleware[:] = [m for m in middleware if type(m).__name__ != "TenancyMiddleware"]
    return built


@asynccontextmanager
async def connected(server, principal: Principal | None = None, **kwargs: Any):
    """An in-memory client whose every request runs as `principal` (None: the local, every-creditor one)."""
    if principal is None:
        async with Client(server, **kwargs) as c:
            yield c
        return
    with acting_as(principal):
        async with Client(server, **kwargs) as c:
            yield c


async def deliver(server, event_id: str, event_type: str, receivable_id: str, **data: Any) -> None:
    """A signed Cleavr webhook through the receiver, then the subscribers told (as the HTTP route does)."""
    from datetime import UTC, datetime

    body = {"id": event_id, "type": event_type, "created_at": datetime.now(UTC).isoformat(),
            "data": {"receivable_id": receivable_id, **data}}
    raw = wire.dumps(body)
    result = await receive(server.event_hub, raw, sign(SECRET, raw))
    assert result.status == 200, result.body
    await server.event_hub.announce(result.events)


def dispute(complaint: str) -> dict[str, Any]:
    return {"dispute": {"reason": "service_not_delivered", "debtor_message": complaint,
                        "evidence_requested": ["delivery_confirmation"]}}


@pytest.fixture
async def tenants(settings, admin) -> dict[str, Any]:
    """Creditor a (the demo creditor) and b, each with a receivable of its own names, amounts, numbers."""
    a = demo_user(settings)
    b = await new_creditor(admin, "beta@platform.example")
    rec_a = await new_receivable(admin, a, A_INVOICE, A_AMOUNT, A_DEBTOR)
    rec_b = await new_receivable(admin, b, B_INVOICE, B_AMOUNT, B_DEBTOR)
    return {"a": a, "b": b, "rec_a": rec_a, "rec_b": rec_b, "A": scoped("acme", a), "B": scoped("beta", b)}


def text_of(result: Any) -> str:
    """Everything a result carries, as one string (content and structured content)."""
    parts = [getattr(c, "text", "") or "" for c in getattr(result, "content", []) or []]
    structured = getattr(result, "structured_content", None)
    if structured is not None:
        parts.append(json.dumps(structured))
    return "\n".join(parts)


def assert_nothing_of_a(text: str, tenants: dict[str, Any], *, asked_for: str | None = None) -> None:
    """None of a's data in `text` (a's receivable id only where the caller itself named it: `asked_for`)."""
    for secret in (A_DEBTOR, A_INVOICE, "1,234.56", A_AMOUNT, tenants["rec_a"], tenants["a"]):
        if secret == asked_for:
            continue
        assert secret not in text, f"{secret!r} leaked into B's answer"


# --- 1. lists ---------------------------------------------------------------------------------------------------
async def test_list_receivables_without_user_id_shows_only_the_callers_rows(server, tenants):
    with acting_as(tenants["B"]):
        async with client(server) as c:
            listed = await c.call_tool("list_receivables", {})
    assert not listed.is_error, listed.content
    assert [r["id"] for r in listed.structured_content["rows"]] == [tenants["rec_b"]]
    assert listed.structured_content["next_cursor"] is None
    assert "1 receivable(s) shown, €777.00 in all." == listed.structured_content["total"]
    assert_nothing_of_a(text_of(listed), tenants)
    async with client(server) as c:  # the local principal (every creditor) still sees both
        everything = await c.call_tool("list_receivables", {})
    assert {r["id"] for r in everything.structured_content["rows"]} == {tenants["rec_a"], tenants["rec_b"]}


async def test_several_creditors_page_through_a_mixed_list_exactly(server, settings, admin, tenants):
    """A principal for a and c, on a list where b's rows sit between theirs: pages of 2 hold only a's and c's
    rows, in the API's order, none twice, none missed; next_cursor is always one of theirs."""
    a, b = tenants["a"], tenants["b"]
    c_user = await new_creditor(admin, "gamma@platform.example")
    mine, of_c = [tenants["rec_a"]], []
    for i, owner in enumerate([b, c_user, b, b, a, b, c_user, b, b, b, a]):
        rec = await new_receivable(admin, owner, f"INV-MIX-{i:02d}", start=False)
        if owner != b:
            mine.append(rec)
        if owner == c_user:
            of_c.append(rec)
    expected = list(reversed(mine))  # newest first
    principal = scoped("ac", a, c_user)
    shown: list[str] = []
    cursors: list[str] = []
    with acting_as(principal):
        async with client(server) as c:
            args: dict[str, Any] = {"limit": 2}
            while True:
                page = await c.call_tool("list_receivables", args)
                assert not page.is_error, page.content
                rows = page.structured_content["rows"]
                assert 1 <= len(rows) <= 2
                shown += [r["id"] for r in rows]
                cursor = page.structured_content["next_cursor"]
                if cursor is None:
                    assert "More exist" not in page.structured_content["total"]
                    break
                assert cursor == rows[-1]["id"] and len(rows) == 2
                assert f"cursor={cursor}" in page.structured_content["total"]
                cursors.append(cursor)
                args = {"limit": 2, "cursor": cursor}
            # One creditor named: the API filters; its rows only.
            only_c = await c.call_tool("list_receivables", {"user_id": c_user, "limit": 100})
            # A cursor that is another creditor's id is refused as one that does not exist.
            foreign = await c.call_tool("list_receivables", {"cursor": tenants["rec_b"]})
            missing = await c.call_tool("list_receivables", {"cursor": "rec_doesnotexist"})
    assert shown == expected and len(cursors) == (len(expected) - 1) // 2
    assert [r["id"] for r in only_c.structured_content["rows"]] == list(reversed(of_c))
    assert foreign.is_error and missing.is_error
    assert foreign.content[0].text.replace(tenants["rec_b"], "X") == missing.content[0].text.replace(
        "rec_doesnotexist", "X")


async def test_portfolio_and_timeline_count_only_the_callers_receivables(server, admin, tenants):
    with acting_as(tenants["B"]):
        async with client(server) as c:
            portfolio = await c.call_tool("show_portfolio", {})
            timeline = await c.call_tool("receivable_timeline", {"receivable_id": tenants["rec_b"]})
            foreign = await c.call_tool("receivable_timeline", {"receivable_id": tenants["rec_a"]})
            missing = await c.call_tool("receivable_timeline", {"receivable_id": "rec_doesnotexist"})
    assert not portfolio.is_error, portfolio.content
    figures = portfolio.structured_content
    assert figures["receivable_count"] == 1 and figures["outstanding"] == "777.00"
    assert [c["user_id"] for c in figures["creditors_not_onboarded"]] == []
    assert not timeline.is_error and timeline.structured_content["receivable_id"] == tenants["rec_b"]
    assert foreign.is_error and missing.is_error
    assert foreign.content[0].text.replace(tenants["rec_a"], "X") == missing.content[0].text.replace(
        "rec_doesnotexist", "X")
    for answer in (portfolio, timeline):
        assert_nothing_of_a(text_of(answer), tenants)
    # A creditor of the principal still onboarding, with no receivable yet: named in what needs the user.
    pending = (await admin.post("/v1/users", {"email": "pending@platform.example"}))["id"]
    with acting_as(scoped("beta+", tenants["b"], pending)):
        async with client(server) as c:
            widened = (await c.call_tool("show_portfolio", {})).structured_content
    assert [c["user_id"] for c in widened["creditors_not_onboarded"]] == [pending]
    assert widened["receivable_count"] == 1
    assert_nothing_of_a(text_of(foreign), tenants, asked_for=tenants["rec_a"])


# --- 2. the event inbox -----------------------------------------------------------------------------------------
async def test_events_carry_their_creditor_and_each_principal_sees_and_acks_only_its_own(server, tenants):
    async with connected(server) as local:  # the lifespan is up: owners are resolved from Cleavr at ingest
        await deliver(server, "evt_scope_a1", "receivable.disputed", tenants["rec_a"], **dispute(A_COMPLAINT))
        await deliver(server, "evt_scope_b1", "payment.received", tenants["rec_b"], amount=B_AMOUNT)
        stored = {e.id: e.user_id for e in (await server.event_hub.inbox.list(creditors=None))[0]}
        assert stored == {"evt_scope_a1": tenants["a"], "evt_scope_b1": tenants["b"]}
        assert (await local.call_tool("list_events", {})).structured_content["unhandled_total"] == 2
    async with connected(server, tenants["B"]) as c:
        listed = await c.call_tool("list_events", {})
        by_foreign_receivable = await c.call_tool("list_events", {"receivable_id": tenants["rec_a"]})
        ack_foreign = await c.call_tool("ack_event", {"receivable_id": tenants["rec_a"]})
        ack_foreign_id = await c.call_tool("ack_event", {"event_ids": ["evt_scope_a1", "evt_scope_zz"]})
        portfolio = await c.call_tool("show_portfolio", {})
        unhandled = await c.read_resource(UNHANDLED_URI)
        ack_own = await c.call_tool("ack_event", {"receivable_id": tenants["rec_b"]})
    rows = listed.structured_content["rows"]
    assert [r["id"] for r in rows] == ["evt_scope_b1"] and listed.structured_content["unhandled_total"] == 1
    # A's receivable or event named: the server's guard answers as for a missing one (or, below it, the inbox
    # finds nothing of A's: tests/events/test_inbox_scope.py).
    assert by_foreign_receivable.is_error or by_foreign_receivable.structured_content["matching"] == 0
    assert ack_foreign.is_error or ack_foreign.structured_content["acknowledged"] == []
    assert ack_foreign_id.is_error or ack_foreign_id.structured_content["unknown"] == ["evt_scope_a1", "evt_scope_zz"]
    assert portfolio.structured_content["unhandled_events_total"] == 1
    assert [r["id"] for r in portfolio.structured_content["unhandled_events"]] == ["evt_scope_b1"]
    assert [r["id"] for r in json.loads(unhandled.contents[0].text)["rows"]] == ["evt_scope_b1"]
    assert ack_own.structured_content["acknowledged"] == ["evt_scope_b1"]
    assert ack_own.structured_content["unhandled_total"] == 0
    for answer in (listed, by_foreign_receivable, ack_foreign, ack_foreign_id, portfolio):
        assert_nothing_of_a(text_of(answer), tenants, asked_for=tenants["rec_a"])
        assert A_COMPLAINT not in text_of(answer)
        if answer is not ack_foreign_id:  # the one that named it
            assert "evt_scope_a1" not in text_of(answer)
    assert A_COMPLAINT not in unhandled.contents[0].text and tenants["rec_a"] not in unhandled.contents[0].text
    assert (await server.event_hub.inbox.get("evt_scope_a1")).handled_at is None  # B touched nothing of A's


async def test_poller_events_carry_the_owner_and_old_unowned_events_are_resolved_lazily(server, admin, tenants):
    hub = server.event_hub
    async with connected(server) as local:
        await local.call_tool("list_events", {"refresh": True})  # the baseline: owners saved in the snapshots
        assert (await hub.inbox.snapshot(tenants["rec_a"])).user_id == tenants["a"]
        await admin.advance(tenants["rec_a"], "dispute", debtor_message=A_COMPLAINT)
        await admin.advance(tenants["rec_b"], "dispute", debtor_message="Beta is late")
        polled = await local.call_tool("list_events", {"refresh": True})
        owners = {r["receivable_id"]: r["user_id"] for r in polled.structured_content["rows"]}
        assert owners == {tenants["rec_a"]: tenants["a"], tenants["rec_b"]: tenants["b"]}
        # An event stored before owners were recorded (no user_id): hidden from B until its owner is found.
        await hub.inbox.record(event_id="evt_old_b", event_type="payment.received", body="{}", source="webhook",
                               receivable_id=tenants["rec_b"])
        await hub.inbox.db.execute("UPDATE events SET user_id = NULL WHERE id = 'evt_old_b'")
        with acting_as(tenants["B"]):
            assert "evt_old_b" not in {e.id for e in (await hub.inbox.list())[0]}
    async with connected(server, tenants["B"]) as c:
        listed = await c.call_tool("list_events", {})
    assert {r["id"] for r in listed.structured_content["rows"]} >= {"evt_old_b"}
    assert {r["receivable_id"] for r in listed.structured_content["rows"]} == {tenants["rec_b"]}
    assert A_COMPLAINT not in text_of(listed)


# --- 3. resources, subscriptions, notifications, completions, prompts, instructions ------------------------------
def error_text(exc: MCPError, receivable_id: str) -> str:
    return str(exc).replace(receivable_id, "X")


async def test_resources_and_subscriptions_refuse_another_creditors_receivable_as_a_missing_one(server, tenants):
    missing = "rec_doesnotexist"
    async with connected(server, tenants["B"]) as c:
        own = await c.read_resource(receivable_uri(tenants["rec_b"]))
        with pytest.raises(MCPError) as foreign_read:
            await c.read_resource(receivable_uri(tenants["rec_a"]))
        with pytest.raises(MCPError) as missing_read:
            await c.read_resource(receivable_uri(missing))
        with pytest.raises(MCPError) as foreign_listen:
            async with c.listen(resource_subscriptions=[receivable_uri(tenants["rec_a"])]):
                pass
        with pytest.raises(MCPError) as missing_listen:
            async with c.listen(resource_subscriptions=[receivable_uri(missing)]):
                pass
        async with c.listen(resource_subscriptions=[receivable_uri(tenants["rec_b"])]) as sub:
            assert sub is not None
    async with connected(server, tenants["B"], mode="legacy") as c:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is deprecated in favour of listen
            with pytest.raises(MCPError) as foreign_sub:
                await c.subscribe_resource(receivable_uri(tenants["rec_a"]))
            with pytest.raises(MCPError) as missing_sub:
                await c.subscribe_resource(receivable_uri(missing))
            await c.subscribe_resource(receivable_uri(tenants["rec_b"]))
    assert json.loads(own.contents[0].text)["id"] == tenants["rec_b"]
    assert B_DEBTOR in own.contents[0].text
    for foreign, absent in ((foreign_read, missing_read), (foreign_listen, missing_listen), (foreign_sub, missing_sub)):
        assert error_text(foreign.value, tenants["rec_a"]) == error_text(absent.value, missing)
        assert foreign.value.error.code == absent.value.error.code
        assert_nothing_of_a(str(foreign.value), tenants, asked_for=tenants["rec_a"])


async def collect(sub, into: list[str], quiet: float = 0.5) -> None:
    """Read notifications until none arrives for `quiet` seconds."""
    while True:
        with anyio.move_on_after(quiet) as waited:
            into.append(str((await sub.__anext__()).uri))
        if waited.cancelled_caught:
            return


async def test_a_subscriber_never_hears_of_another_creditors_event(server, admin, tenants):
    """Modern listen streams of A and B open at once; A's webhook and A's polled change reach A only. (In memory,
    a request runs in the sender's context: each stream is opened under its own principal.)"""
    heard: dict[str, list[str]] = {"A": [], "B": []}
    uris = {"A": [UNHANDLED_URI, receivable_uri(tenants["rec_a"])],
            "B": [UNHANDLED_URI, receivable_uri(tenants["rec_b"])]}
    async with Client(server) as local, Client(server) as ca, Client(server) as cb:
        await local.call_tool("list_events", {"refresh": True})  # poller baseline
        with acting_as(tenants["B"]), pytest.raises(MCPError):  # B may not even ask for A's receivable
            async with cb.listen(resource_subscriptions=[*uris["B"], receivable_uri(tenants["rec_a"])]):
                pass
        with acting_as(tenants["A"]):
            sub_a_stream = ca.listen(resource_subscriptions=uris["A"])
            sub_a = await sub_a_stream.__aenter__()
        with acting_as(tenants["B"]):
            sub_b_stream = cb.listen(resource_subscriptions=uris["B"])
            sub_b = await sub_b_stream.__aenter__()
        try:
            await deliver(server, "evt_note_a1", "receivable.disputed", tenants["rec_a"], **dispute(A_COMPLAINT))
            await collect(sub_a, heard["A"])
            assert set(heard["A"]) == set(uris["A"])
            await admin.advance(tenants["rec_a"], "record_payment")
            polled = await local.call_tool("list_events", {"refresh": True})  # the poller sees A's payment
            assert "1 new change(s)" in polled.structured_content["refreshed"]
            from_poller: list[str] = []
            await collect(sub_a, from_poller)
            assert set(from_poller) == set(uris["A"])
            await collect(sub_b, heard["B"], quiet=0.2)
            assert heard["B"] == []
            await deliver(server, "evt_note_b1", "payment.received", tenants["rec_b"], amount=B_AMOUNT)
            await collect(sub_b, heard["B"])
        finally:
            await sub_b_stream.__aexit__(None, None, None)
            await sub_a_stream.__aexit__(None, None, None)
    assert sorted(heard["B"]) == sorted([UNHANDLED_URI, receivable_uri(tenants["rec_b"])])


async def test_legacy_subscribers_hear_only_their_creditors_events(server, tenants):
    heard: dict[str, list[str]] = {"A": [], "B": []}

    def on_message(who: str):
        async def handler(message) -> None:
            if isinstance(message, ResourceUpdatedNotification):
                heard[who].append(str(message.params.uri))
        return handler

    async with Client(server, mode="legacy", message_handler=on_message("A")) as ca, \
            Client(server, mode="legacy", message_handler=on_message("B")) as cb:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is deprecated in favour of listen
            with acting_as(tenants["A"]):
                await ca.subscribe_resource(UNHANDLED_URI)
            with acting_as(tenants["B"]):
                await cb.subscribe_resource(UNHANDLED_URI)
        await deliver(server, "evt_leg_a1", "receivable.disputed", tenants["rec_a"], **dispute(A_COMPLAINT))
        with anyio.fail_after(5):
            while not heard["A"]:
                await anyio.sleep(0.02)
        await anyio.sleep(0.2)
        assert heard["B"] == []
        await deliver(server, "evt_leg_b1", "payment.received", tenants["rec_b"], amount=B_AMOUNT)
        with anyio.fail_after(5):
            while not heard["B"]:
                await anyio.sleep(0.02)
    assert heard == {"A": [UNHANDLED_URI], "B": [UNHANDLED_URI]}


async def test_completions_prompts_and_instructions_name_only_the_callers_ids(server, admin, tenants):
    await admin.advance(tenants["rec_a"], "dispute", debtor_message=A_COMPLAINT)
    await admin.advance(tenants["rec_b"], "dispute", debtor_message="Beta is late")
    template = ResourceTemplateReference(type="ref/resource", uri="cleavr://receivables/{receivable_id}")
    async with connected(server) as local:
        await deliver(server, "evt_cmp_a1", "receivable.disputed", tenants["rec_a"], **dispute(A_COMPLAINT))
        local_instructions = local.instructions
    async with connected(server, tenants["A"]) as ca:
        a_instructions = ca.instructions
    async with connected(server, tenants["B"]) as c:
        b_instructions = c.instructions
        ids = await c.complete(template, {"name": "receivable_id", "value": "rec_"})
        disputed = await c.complete(PromptReference(type="ref/prompt", name="handle_dispute"),
                                    {"name": "receivable_id", "value": ""})
        users = await c.complete(PromptReference(type="ref/prompt", name="submit_invoice_pdf"),
                                 {"name": "user_id", "value": "usr_"})
        own_prompt = await c.get_prompt("handle_dispute", {"receivable_id": tenants["rec_b"]})
        with pytest.raises(MCPError) as foreign_prompt:
            await c.get_prompt("handle_dispute", {"receivable_id": tenants["rec_a"]})
        with pytest.raises(MCPError) as missing_prompt:
            await c.get_prompt("handle_dispute", {"receivable_id": "rec_doesnotexist"})
        review = await c.get_prompt("review_portfolio", {})
    assert ids.completion.values == [tenants["rec_b"]] and disputed.completion.values == [tenants["rec_b"]]
    assert users.completion.values == [tenants["b"]]
    assert tenants["rec_b"] in own_prompt.messages[0].content.text
    assert error_text(foreign_prompt.value, tenants["rec_a"]) == error_text(missing_prompt.value, "rec_doesnotexist")
    review_text = review.messages[0].content.text
    assert "1 disputed" in review_text and "evt_cmp_a1" not in review_text
    # The demo creditor (a) is named to the local principal and to A, never to B.
    assert tenants["a"] in local_instructions and tenants["a"] in a_instructions
    assert tenants["a"] not in b_instructions and "SANDBOX" in b_instructions
    for text in (json.dumps(ids.model_dump(mode="json")), json.dumps(disputed.model_dump(mode="json")),
                 json.dumps(users.model_dump(mode="json")), review_text, b_instructions,
                 own_prompt.messages[0].content.text, own_prompt.messages[1].content.resource.text):
        assert_nothing_of_a(text, tenants)
        assert A_COMPLAINT not in text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_instructions_name_the_demo_creditor_only_to_who_may_act_for_it(server, settings, mode):
    """Sent at initialize (2025) or server/discover (2026-07-28): worked out per principal in both."""
    demo = demo_user(settings)
    told = {}
    for who, principal in (("local", None), ("demo", scoped("acme", demo)), ("other", scoped("beta", "usr_clv_b0")),
                           ("nobody", scoped("none"))):
        async with connected(server, principal, mode=mode) as c:
            told[who] = c.instructions
    assert demo in told["local"] and demo in told["demo"]
    assert all(demo not in told[who] and "Environment: SANDBOX" in told[who] for who in ("other", "nobody"))
    assert "CleverInvo" not in told["other"] and "CleverInvo" in told["local"]  # no account of its own
