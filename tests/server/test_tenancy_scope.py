"""What a principal acting for some creditors sees (#15, scope): lists, the portfolio, the timeline, the event
inbox, resources, subscriptions, completions, prompts and the instructions, with two (or three) creditors on the
embedded sandbox. The full cross-tenant HTTP matrix is tests/tenancy/; these are the filters one by one.

The principal is set around the in-memory client (`acting_as`): the server's handlers run in its context.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cleavr_mcp.domain.tenancy import Principal, acting_as

from .conftest import client, demo_user, submission

pytestmark = pytest.mark.anyio

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


async def test_portfolio_and_timeline_count_only_the_callers_receivables(server, tenants):
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
    assert_nothing_of_a(text_of(foreign), tenants, asked_for=tenants["rec_a"])
