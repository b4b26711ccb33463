"""CleverInvo for a principal acting for some creditors only (#15): the toolset only with its own account (its
own client, from the variable its principal names), and "already submitted" only from its own receivables."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from mcp import Client

from cleavr_mcp.cleverinvo.mapping import SOURCE
from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.cleverinvo import sandbox_api_key
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import submission

from .conftest import demo_user, sc

pytestmark = pytest.mark.anyio
CLEVERINVO_TOOLS = {"list_overdue_invoices", "search_clients", "get_invoice", "recover_invoice", "recover_invoices"}


@pytest.fixture
def server(settings):
    """Each in-memory connection runs as the principal it was opened under (no HTTP credential to map)."""
    built = build_server(settings)
    middleware = built._lowlevel_server.middleware
    middleware[:] = [m for m in middleware if type(m).__name__ != "TenancyMiddleware"]
    return built


@asynccontextmanager
async def connected(server, principal: Principal | None):
    if principal is None:
        async with Client(server) as c:
            yield c
        return
    with acting_as(principal):
        async with Client(server) as c:
            yield c


@pytest.fixture
async def creditor_b(admin) -> str:
    user = await admin.post("/v1/users", {"email": "beta@platform.example"})
    await admin.post(f"/sandbox/users/{user['id']}/complete-onboarding", {})
    return user["id"]


def principal(name: str, user_id: str, key_env: str | None = None) -> Principal:
    return Principal(name=name, user_ids=frozenset({user_id}), cleverinvo_api_key_env=key_env,
                     source="principals-file")


async def test_the_toolset_only_with_the_principals_own_account(server, settings, creditor_b, monkeypatch):
    key = sandbox_api_key(SandboxConfig.from_settings(settings).db_path)
    monkeypatch.setenv("CLEAVR_TEST_CI_KEY_A", key)
    monkeypatch.setenv("CLEAVR_TEST_CI_KEY_B", "ci_wrong_key_not_this_accounts")
    monkeypatch.delenv("CLEAVR_TEST_CI_KEY_UNSET", raising=False)
    a = principal("acme", demo_user(settings), "CLEAVR_TEST_CI_KEY_A")
    b_without = principal("beta", creditor_b)
    b_wrong = principal("beta-wrong", creditor_b, "CLEAVR_TEST_CI_KEY_B")
    b_unset = principal("beta-unset", creditor_b, "CLEAVR_TEST_CI_KEY_UNSET")
    async with connected(server, b_without) as c:
        listed = {t.name for t in (await c.list_tools()).tools}
        refused = await c.call_tool("list_overdue_invoices", {})
        instructions = c.instructions
    assert not listed & CLEVERINVO_TOOLS and "list_receivables" in listed
    assert refused.is_error and "TOOL_NOT_ALLOWED" in refused.content[0].text
    assert "cleverinvo_api_key_env" in refused.content[0].text
    assert "CleverInvo" not in instructions
    async with connected(server, a) as c:
        assert CLEVERINVO_TOOLS <= {t.name for t in (await c.list_tools()).tools}
        own = await c.call_tool("list_overdue_invoices", {})
        assert "CleverInvo" in c.instructions
    assert not own.is_error and sc(own)["recoverable_count"] > 0
    async with connected(server, b_wrong) as c:
        wrong = await c.call_tool("search_clients", {})
    async with connected(server, b_unset) as c:
        unset = await c.call_tool("search_clients", {})
    # Its own key is the one used (the server's account would have answered), and never shown.
    assert wrong.is_error and "CLEVERINVO_UNAUTHORIZED" in wrong.content[0].text
    assert "ci_wrong_key" not in wrong.content[0].text and key not in wrong.content[0].text
    assert unset.is_error and "CLEVERINVO_NOT_CONFIGURED" in unset.content[0].text
    assert "CLEAVR_TEST_CI_KEY_UNSET" in unset.content[0].text


async def test_already_submitted_marks_come_only_from_the_callers_receivables(server, settings, admin, creditor_b,
                                                                             monkeypatch):
    monkeypatch.setenv("CLEAVR_TEST_CI_KEY_A", sandbox_api_key(SandboxConfig.from_settings(settings).db_path))
    a = principal("acme", demo_user(settings), "CLEAVR_TEST_CI_KEY_A")
    async with connected(server, None) as c:
        before = sc(await c.call_tool("list_overdue_invoices", {}))
    invoice = before["recoverable"][0]
    # Creditor b already sent this CleverInvo invoice to Cleavr (the same CleverInvo data, another customer).
    body = submission(creditor_b, number="INV-B-CLEVERINVO", phone="+33612345678")
    body["metadata"] = {"source": SOURCE, "platform_invoice_id": invoice["invoice_id"]}
    b_receivable = (await admin.post("/v1/receivables", body, **{"Idempotency-Key": "INV-B-CLEVERINVO"}))["id"]

    async with connected(server, None) as c:
        everyone = sc(await c.call_tool("list_overdue_invoices", {}))
    blocked = {r["invoice_id"]: r for r in everyone["not_recoverable"]}
    assert blocked[invoice["invoice_id"]]["receivable_id"] == b_receivable  # every creditor: b's mark counts

    async with connected(server, a) as c:
        listed = await c.call_tool("list_overdue_invoices", {})
        one = await c.call_tool("get_invoice", {"invoice_id": invoice["invoice_id"]})
    mine = sc(listed)
    assert invoice["invoice_id"] in {r["invoice_id"] for r in mine["recoverable"]}
    assert invoice["invoice_id"] not in {r["invoice_id"] for r in mine["not_recoverable"]}
    assert sc(one).get("receivable_id") is None
    for answer in (listed, one):
        text = str(answer.structured_content) + "".join(getattr(x, "text", "") for x in answer.content)
        assert b_receivable not in text and creditor_b not in text
