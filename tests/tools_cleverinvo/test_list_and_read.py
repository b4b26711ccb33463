"""list_overdue_invoices, get_invoice, search_clients on the seeded CleverInvo data; the toolset's presence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from mcp import Client

from cleavr_mcp.cleavr.contract import COMMISSION_TIERS
from cleavr_mcp.cleavr.validation import compute_commission, days_since
from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox.cleverinvo import RECOVERABLE_SEED_INVOICES
from cleavr_mcp.server.app import build_server

from .conftest import client, sc

pytestmark = pytest.mark.anyio
CLEVERINVO_TOOLS = {"list_overdue_invoices", "recover_invoice", "recover_invoices", "search_clients", "get_invoice"}


async def test_seeded_overdue_invoices_with_tiers_fees_and_reasons(server, seeded):
    async with client(server) as c:
        result = await c.call_tool("list_overdue_invoices", {"limit": 100})
    assert not result.is_error, result.content
    out = sc(result)
    rows = out["recoverable"]
    assert out["recoverable_count"] == len(rows) == RECOVERABLE_SEED_INVOICES

    by_id = {i.id: i for i in seeded.invoices}
    for row in rows:
        invoice = by_id[row["invoice_id"]]
        due = invoice.total - (invoice.amount_paid or 0)
        assert Decimal(row["amount_due"]) == due
        assert row["days_overdue"] == (date.today() - invoice.due_date).days > 0
        # Cleavr prices the debt by its age from the invoice date: what the receivable will be charged.
        expected = compute_commission(due, days_since(invoice.issue_date))
        assert (Decimal(row["fee_rate_percentage"]), Decimal(row["fee"]), row["tier"]) == (
            expected["rate_percentage"], expected["commission_amount"], expected["rate_tier"]), row
    assert {row["tier"] for row in rows} == {compute_commission(1, lo)["rate_tier"] for lo, _, _ in COMMISSION_TIERS}
    assert [r["days_overdue"] for r in rows] == sorted((r["days_overdue"] for r in rows), reverse=True)
    assert Decimal(out["total_due"]) == sum(Decimal(r["amount_due"]) for r in rows)
    assert Decimal(out["total_fee"]) == sum(Decimal(r["fee"]) for r in rows)
    assert out["totals"].startswith(f"{RECOVERABLE_SEED_INVOICES} recoverable invoice(s): €")

    no_phone = {r["client"] for r in rows if not r["has_phone"]}
    assert no_phone == {"Café des Arts"}  # the client without a phone (two invoices)
    partial = [r for r in rows if r["status"] == "PARTIALLY_PAID"]
    assert len(partial) == 2 and all(r["note"].startswith("partially paid:") for r in partial)

    blocked = {(r["client"], r["status"], r["days_overdue"]): r for r in out["not_recoverable"]}
    assert set(blocked) == {("Garage Lefèvre", "OVERDUE", 90), ("Garage Lefèvre", "VIEWED", 200),
                            ("Menuiserie Bois d'Or", "OVERDUE", 400), ("Acme Corp", "OVERDUE", 120),
                            ("Acme Corp", "SENT", 40)}
    for key, row in blocked.items():
        if key[0] == "Acme Corp":
            assert row["codes"] == ["not_eur"] and "EUR only" in row["reasons"][0]
            assert row["amount_due"].endswith(" USD") and row["fixable"] is False
        else:
            assert row["codes"] == ["no_email"] and row["fixable"] is True
    assert "recover_invoice" in out["next_step"]


async def test_filters_and_paging(server):
    async with client(server) as c:
        everything = sc(await c.call_tool("list_overdue_invoices", {"limit": 100}))
        over_45 = sc(await c.call_tool("list_overdue_invoices", {"min_days_overdue": 45, "limit": 100}))
        dupont = sc(await c.call_tool("list_overdue_invoices", {"client_search": "dupont"}))
        first = sc(await c.call_tool("list_overdue_invoices", {"limit": 8}))
        second = sc(await c.call_tool("list_overdue_invoices", {"limit": 8, "cursor": first["next_cursor"]}))
        third = sc(await c.call_tool("list_overdue_invoices", {"limit": 8, "cursor": second["next_cursor"]}))
        bad = await c.call_tool("list_overdue_invoices", {"limit": 500})
    expected_45 = [r["invoice_id"] for r in everything["recoverable"] if r["days_overdue"] >= 45]
    assert [r["invoice_id"] for r in over_45["recoverable"]] == expected_45 and expected_45
    assert all(r["days_overdue"] >= 45 for r in over_45["not_recoverable"])
    assert "overdue ≥ 45 days" in over_45["totals"]
    assert {r["client"] for r in dupont["recoverable"]} == {"Dupont & Fils SAS"} and dupont["not_recoverable"] == []

    assert first["next_cursor"] == "8" and third["next_cursor"] is None
    paged = [r["invoice_id"] for page in (first, second, third) for r in page["recoverable"]]
    assert paged == [r["invoice_id"] for r in everything["recoverable"]]
    assert "cursor=8" in first["totals"]
    assert bad.is_error and "VALIDATION_ERROR" in bad.content[0].text


async def test_already_submitted_invoices_are_listed_with_their_receivable(server, settings):
    from .conftest import Human, demo_user

    async with client(server, "auto", Human()) as c:
        before = sc(await c.call_tool("list_overdue_invoices", {}))
        target = before["recoverable"][0]
        done = sc(await c.call_tool("recover_invoice", {"invoice_id": target["invoice_id"],
                                                        "user_id": demo_user(settings)}))
        after = sc(await c.call_tool("list_overdue_invoices", {}))
    assert after["recoverable_count"] == before["recoverable_count"] - 1
    row = next(r for r in after["not_recoverable"] if r["invoice_id"] == target["invoice_id"])
    rec_id = done["receivable"]["id"]
    assert row["codes"] == ["already_submitted"] and row["receivable_id"] == rec_id
    assert row["reasons"] == [f"already submitted to Cleavr as {rec_id} (pending)"] and row["fixable"] is False


async def test_get_invoice_is_compact_and_marks_free_text(server, seeded):
    thames = seeded.pick("Thames Digital Ltd", "OVERDUE", 89)  # carries a reverse-charge note
    paid = seeded.pick("Boulangerie Martin SARL", "PAID")
    async with client(server) as c:
        full = sc(await c.call_tool("get_invoice", {"invoice_id": thames.id}))
        settled = sc(await c.call_tool("get_invoice", {"invoice_id": paid.id}))
        missing = await c.call_tool("get_invoice", {"invoice_id": "clxdoesnotexist"})
    assert full["number"] == thames.invoice_number and Decimal(full["total"]) == thames.total
    assert full["lines"] and full["lines"][0]["description"] == "Web platform development (days)"
    assert full["notes"]["untrusted"] is True and "Autoliquidation" in full["notes"]["text"]
    assert full["recoverable"] is True and full["fee_preview"].startswith("20.60 % = €")
    assert "recover_invoice" in full["next_step"]
    assert settled["recoverable"] is False and settled["reasons"] == ["already paid"]
    assert missing.is_error and "CLEVERINVO_NOT_FOUND" in missing.content[0].text
    assert "list_overdue_invoices" in missing.content[0].text


async def test_search_clients_recognises_tax_ids(server):
    async with client(server) as c:
        dupont = sc(await c.call_tool("search_clients", {"query": "dupont"}))
        everyone = sc(await c.call_tool("search_clients", {"limit": 100}))
    assert [r["name"] for r in dupont["clients"]] == ["Dupont & Fils SAS"]
    assert dupont["clients"][0]["tax_id_kind"] == "vat_number"
    kinds = {r["name"]: r["tax_id_kind"] for r in everyone["clients"]}
    assert kinds["Boulangerie Martin SARL"] == "siret" and kinds["Café des Arts"] == "siren"
    assert kinds["Acme Corp"] == "foreign" and kinds["Menuiserie Bois d'Or"] == "invalid"
    assert "Brasserie du Port" not in kinds  # soft-deleted
    assert len(everyone["clients"]) == 11


async def test_toolset_only_when_cleverinvo_is_configured(tmp_path):
    async def names(**options) -> set[str]:
        settings = Settings(_env_file=None, data_dir=tmp_path, **options)
        async with Client(build_server(settings)) as c:
            return {t.name for t in (await c.list_tools()).tools}

    remote = {"base_url": "http://127.0.0.1:9"}  # a real Cleavr, no CleverInvo: never the demo invoices
    assert not CLEVERINVO_TOOLS & await names(**remote)
    configured = {**remote, "cleverinvo_base_url": "http://127.0.0.1:9/api/v1", "cleverinvo_api_key": "cinv_x"}
    assert CLEVERINVO_TOOLS <= await names(**configured)
    assert CLEVERINVO_TOOLS & await names(**configured, read_only=True) == {
        "list_overdue_invoices", "search_clients", "get_invoice"}
    assert CLEVERINVO_TOOLS & await names(**configured, no_money=True) == {
        "list_overdue_invoices", "search_clients", "get_invoice"}
    assert CLEVERINVO_TOOLS & await names(**configured, toolsets=["receivables"]) == set()
    async with Client(build_server(Settings(_env_file=None, data_dir=tmp_path, **remote))) as c:
        refused = await c.call_tool("recover_invoices", {"user_id": "usr_clv_x"})
    assert refused.is_error and "TOOL_NOT_ALLOWED" in refused.content[0].text


async def test_a_refused_api_key_is_an_error_without_the_key(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, cleverinvo_api_key="cinv_wrong_key_123")
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("search_clients", {"query": "acme"})
    assert result.is_error and "CLEVERINVO_UNAUTHORIZED" in result.content[0].text
    assert "cinv_wrong_key_123" not in str(result.model_dump())
