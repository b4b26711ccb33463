"""CleverInvo tools through the SDK's in-memory client, on the server's embedded sandbox (Cleavr + CleverInvo mounted
in it, seeded relative to today). A second app on the same SQLite file gives the test direct access to both APIs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

# The server tests' fixtures (settings, server, admin) and helpers serve here unchanged.
from server.conftest import MODES, Human, admin, client, demo_user, embedded_admin, server, settings, token_server  # noqa: F401

from cleavr_mcp.cleavr.validation import compute_commission, days_since
from cleavr_mcp.cleverinvo import CleverInvoClient, Client, InvoiceSummary
from cleavr_mcp.sandbox.cleverinvo import MOUNT_PATH, sandbox_api_key

__all__ = ["MODES", "Human", "client", "demo_user", "Seeded", "sc", "receivable_count", "quote_text"]


@dataclass
class Seeded:
    """The seeded CleverInvo data as the API returns it, to pick invoices by what they are rather than by id."""

    invoices: list[InvoiceSummary]
    clients: dict[str, Client]
    ci: CleverInvoClient

    def pick(self, client_name: str, status: str, days_overdue: int | None = None) -> InvoiceSummary:
        found = [i for i in self.invoices if i.client and i.client.name == client_name and i.status == status
                 and (days_overdue is None or (date.today() - i.due_date).days == days_overdue)]
        assert len(found) == 1, (client_name, status, days_overdue, found)
        return found[0]


@pytest.fixture
async def seeded(admin, settings) -> Seeded:
    from cleavr_mcp.sandbox import SandboxConfig

    key = sandbox_api_key(SandboxConfig.from_settings(settings).db_path)
    ci = CleverInvoClient(admin.http, api_key=key, base_url="http://admin.local" + MOUNT_PATH, limiter=None)
    invoices = [i async for i in ci.iter_invoices()]
    clients = {c.id: c async for c in ci.iter_clients()}
    return Seeded(invoices, clients, ci)


def sc(result) -> dict[str, Any]:
    assert result.structured_content is not None, result.content
    return result.structured_content


async def receivable_count(admin) -> int:
    return (await admin.get("/sandbox/stats"))["receivables"]["total"]


def quote_text(amount: Decimal, issue_date: date) -> str:
    """The quote line as Cleavr computes it: age from the invoice date, the documented tiers."""
    q = compute_commission(amount, days_since(issue_date))
    return (f"{q['rate_percentage']:.2f} % = €{q['commission_amount']:,.2f}, "
            f"you receive €{q['net_recovery']:,.2f}")
