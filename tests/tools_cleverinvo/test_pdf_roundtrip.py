"""CleverInvo PDF → extract_pdf tool → the same invoice: number, amount, dates and debtor read back from the PDF."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cleavr_mcp.cleverinvo import recognise_tax_id

from .conftest import client, demo_user, sc

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("client_name", "status", "days"), [
    ("Boulangerie Martin SARL", "OVERDUE", 60),  # French layout, SIRET
    ("Thames Digital Ltd", "OVERDUE", 89),  # English layout, UK address, no VAT
    ("Dupont & Fils SAS", "PARTIALLY_PAID", 95),
])
async def test_cleverinvo_pdf_reads_back_through_extract_pdf(server, settings, seeded, client_name, status, days):
    invoice = seeded.pick(client_name, status, days)
    docs = settings.allowed_roots[0]
    pdf = await seeded.ci.download_invoice_pdf(invoice.id, docs)
    assert pdf.path.parent == docs and pdf.filename == f"{invoice.invoice_number}.pdf"
    async with client(server) as c:
        result = await c.call_tool("extract_pdf", {"user_id": demo_user(settings), "file": {"path": str(pdf.path)}})
        outside = await c.call_tool("extract_pdf", {"user_id": demo_user(settings),
                                                    "file": {"path": str(settings.data_dir / "x.pdf")}})
    assert not result.is_error, result.content
    draft = sc(result)["draft"]
    assert draft["invoice"]["numbers"][0] == invoice.invoice_number
    assert Decimal(draft["invoice"]["amount"]) == invoice.total  # the PDF shows the invoice total, not what is due
    assert draft["invoice"]["issue_date"] == invoice.issue_date.isoformat()
    assert draft["invoice"]["due_date"] == invoice.due_date.isoformat()
    assert draft["debtor"]["company_name"] == client_name
    tax_id = recognise_tax_id(seeded.clients[invoice.client_id].tax_id) or {}
    if "siret" in tax_id:
        assert draft["debtor"]["siret"] == tax_id["siret"]
    assert outside.is_error  # only files inside the server's allowed roots are read
