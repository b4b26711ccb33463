"""Seed facts the MCP tools (and their tests) rely on."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pytest

from cleavr_mcp.cleavr.validation import commission_tier, normalize_phone
from cleavr_mcp.cleverinvo.mapping import assess, recognise_tax_id
from cleavr_mcp.cleverinvo.models import InvoiceStatus
from cleavr_mcp.sandbox.cleverinvo import RECOVERABLE_SEED_INVOICES, sandbox_api_key

from .conftest import TODAY, asgi_http

pytestmark = pytest.mark.anyio


async def fetch_all(sandbox):
    async with asgi_http(sandbox) as http:
        ci = sandbox.client(http)
        invoices = [i async for i in ci.iter_invoices()]
        clients = {c.id: c for c in [await ci.get_client(cid) for cid in {i.client_id for i in invoices}]}
        return invoices, clients


async def test_seed_covers_every_status_tier_and_tricky_case(asgi_sandbox):
    invoices, clients = await fetch_all(asgi_sandbox)
    assert len(invoices) == 40 and len(clients) == 12
    assert Counter(i.status for i in invoices) == {
        "OVERDUE": 18, "SENT": 6, "PAID": 6, "VIEWED": 4, "PARTIALLY_PAID": 3, "DRAFT": 3}
    assert sum(1 for i in invoices if i.currency == "USD") == 4
    assert [i.invoice_number for i in sorted(invoices, key=lambda i: (i.issue_date, i.invoice_number))] == [
        f"INV-{n:04d}" for n in range(1, 41)]

    past_due = [(TODAY - i.due_date).days for i in invoices
                if i.status not in ("PAID", "DRAFT") and i.due_date < TODAY]
    assert min(past_due) == 5 and max(past_due) == 700
    assert {commission_tier(d)[0] for d in past_due} == {0, 45, 90, 180, 365, 547}

    assert sum(1 for c in clients.values() if not c.phone) == 2
    assert sum(1 for c in clients.values() if not c.email) == 2
    assert sum(1 for c in clients.values() if not c.is_active) == 1
    kinds = Counter(next(iter(recognise_tax_id(c.tax_id) or {"none": ""})) for c in clients.values())
    assert kinds == {"siret": 4, "siren": 2, "vat_number": 2, "foreign": 2, "invalid": 1, "none": 1}
    phones = [c.phone for c in clients.values() if c.phone]
    assert "+1-555-0100" in phones and normalize_phone("+1-555-0100") is None
    assert {"06 12 34 56 78", "+33 (0)6 12-34-56-78", "+44 20 7946 0958"} <= set(phones)
    addresses = {c.address for c in clients.values()}
    assert {"12 rue de la Paix, 75002 Paris", "10 Downing St, London SW1A 2AA, UK",
            "123 Main St, New York, NY 10001"} <= addresses

    partial = [i for i in invoices if i.status == InvoiceStatus.PARTIALLY_PAID]
    assert all(Decimal(0) < i.amount_paid < i.total for i in partial)
    assert all(i.amount_paid == i.total for i in invoices if i.status == "PAID")
    assert all(i.amount_paid == 0 for i in invoices if i.status not in ("PAID", "PARTIALLY_PAID"))


async def test_recoverable_today(asgi_sandbox):
    invoices, clients = await fetch_all(asgi_sandbox)
    verdicts = [assess(i, clients[i.client_id], TODAY) for i in invoices]
    recoverable = [v for v in verdicts if v.recoverable]
    assert len(recoverable) == RECOVERABLE_SEED_INVOICES == 20
    assert {v.commission["rate_tier"] for v in recoverable} == {
        "0-44 days", "45-89 days", "90-179 days", "180-364 days", "365-546 days", "547+ days"}
    past_due_blocked = Counter(c for v in verdicts if not v.recoverable and v.days_overdue > 0
                               and v.status not in ("PAID", "DRAFT") for c in v.codes)
    assert past_due_blocked == {"no_email": 3, "not_eur": 2}
    over_45 = [v for v in recoverable if v.days_overdue >= 45]
    assert len(over_45) == 13


async def test_seed_is_deterministic_relative_to_today(make_asgi_sandbox):
    a, _ = await fetch_all(make_asgi_sandbox())
    b, _ = await fetch_all(make_asgi_sandbox())
    later, _ = await fetch_all(make_asgi_sandbox(today=TODAY + timedelta(days=10)))
    key = lambda i: i.invoice_number  # noqa: E731
    a, b, later = sorted(a, key=key), sorted(b, key=key), sorted(later, key=key)
    assert [(i.id, i.due_date, i.total, i.status) for i in a] == [(i.id, i.due_date, i.total, i.status) for i in b]
    assert all(y.due_date - x.due_date == timedelta(days=10) and x.id == y.id for x, y in zip(a, later))


async def test_seeding_once_per_database_and_stable_key(make_asgi_sandbox):
    from cleavr_mcp.sandbox.cleverinvo import create_cleverinvo_app

    first = make_asgi_sandbox()
    again = create_cleverinvo_app(first.db_path, today=date(2030, 1, 1))  # a restart, another day
    assert again.state.store.one("SELECT count(*) FROM ci_invoices")[0] == 40
    assert sandbox_api_key(first.db_path) == first.api_key and first.api_key.startswith("cinv_sandbox_")
    empty = make_asgi_sandbox(seed=False)
    async with asgi_http(empty) as http:
        page = await empty.client(http).list_invoices()
        assert page.total == 0 and page.total_pages == 0 and page.data == []
