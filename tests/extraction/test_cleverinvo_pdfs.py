"""CleverInvo's invoice PDFs (cleavr_mcp/sandbox/cleverinvo/pdf.py) read back by the extractor, field by field.

Rendered directly from the seeded CleverInvo store (no HTTP): every seeded invoice, French and English.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cleavr_mcp.cleavr.validation import normalize_phone
from cleavr_mcp.cleverinvo.mapping import parse_address, recognise_tax_id
from cleavr_mcp.extraction import extract_invoice
from cleavr_mcp.sandbox.cleverinvo.pdf import LATE_PENALTY_RATE, invoice_language, render_invoice_pdf
from cleavr_mcp.sandbox.cleverinvo.store import Store, client_json, invoice_json

INVOICE_SELECT = (
    "SELECT i.*, c.name AS client_name, c.email AS client_email FROM ci_invoices i "
    "JOIN ci_clients c ON c.id = i.client_id ORDER BY i.invoice_number"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("cleverinvo") / "ci.sqlite", today=date(2026, 1, 15))
    try:
        store.seed()
        out = []
        for row in store.query(INVOICE_SELECT):
            invoice = invoice_json(row, full=True, lines=store.line_items(row["id"]))
            client = client_json(store.one("SELECT * FROM ci_clients WHERE id = ?", (row["client_id"],)))
            pdf = render_invoice_pdf(invoice, client, store.issuer())
            out.append((invoice, client, pdf, extract_invoice(pdf)))
        return out
    finally:
        store.close()


def test_every_seeded_invoice_reads_back(rendered):
    assert len(rendered) == 40
    mismatches = []
    for invoice, client, _, result in rendered:
        inv, debtor = result["data"]["invoice"], result["data"]["debtor"]
        contact = (debtor.get("contacts") or [{}])[0]
        tax = recognise_tax_id(client["taxId"]) or {}
        address = parse_address(client["address"])
        expected = {
            "numbers": [invoice["invoiceNumber"]],
            "issue_date": date.fromisoformat(invoice["issueDate"]),
            "due_date": date.fromisoformat(invoice["dueDate"]),
            "amount": invoice["total"],
            "amount_before_tax": invoice["subtotal"],
            "tax_amount": invoice["taxTotal"],
            "currency": invoice["currency"],
            "late_penalty_rate": LATE_PENALTY_RATE,
            "company_name": client["name"],
            "email": client["email"],
            "phone": normalize_phone(client["phone"]) if client["phone"] else None,
            "siret": tax.get("siret"),
            "vat_number": tax.get("vat_number"),
            "address": address.to_cleavr() if address else None,
        }
        actual = {
            **{k: inv.get(k) for k in ("numbers", "issue_date", "due_date", "amount", "amount_before_tax",
                                       "tax_amount", "currency", "late_penalty_rate")},
            "company_name": debtor.get("company_name"),
            "email": contact.get("email"),
            "phone": contact.get("phone"),
            "siret": debtor.get("siret"),
            "vat_number": debtor.get("vat_number"),
            "address": debtor.get("address"),
        }
        for key, value in expected.items():
            if actual[key] != value:
                mismatches.append(f"{invoice['invoiceNumber']} {key}: got {actual[key]!r}, expected {value!r}")
    assert mismatches == []


def test_languages_terms_and_confidence(rendered):
    languages = set()
    for invoice, client, _, result in rendered:
        languages.add(invoice_language(invoice, client))
        inv = result["data"]["invoice"]
        assert inv.get("payment_terms"), invoice["invoiceNumber"]
        if invoice["terms"]:
            assert inv["payment_terms"] == invoice["terms"]
        assert inv["amount"] == inv["amount_before_tax"] + inv["tax_amount"]
        if client["email"]:
            assert result["confidence"] >= 0.8, (invoice["invoiceNumber"], result["field_confidence"])
            assert result["field_confidence"]["invoice.amount"] >= 0.97
        else:
            assert "debtor.contacts[0].email" in result["missing_fields"]
            assert result["confidence"] < 0.8
    assert languages == {"fr", "en"}


def test_amounts_are_money(rendered):
    for *_, result in rendered:
        for key in ("amount", "amount_before_tax", "tax_amount"):
            value = result["data"]["invoice"][key]
            assert isinstance(value, Decimal) and value == value.quantize(Decimal("0.01"))
