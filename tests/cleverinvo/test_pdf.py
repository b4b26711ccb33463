"""Invoice PDFs: real text-layer PDFs whose text reads back (pypdf), and the CleverInvo → PDF → extractor loop."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdf
import pytest

from cleavr_mcp.cleavr.validation import normalize_phone
from cleavr_mcp.cleverinvo.mapping import parse_address, recognise_tax_id
from cleavr_mcp.sandbox.cleverinvo import ISSUER, render_invoice_pdf
from cleavr_mcp.sandbox.cleverinvo.pdf import address_lines, format_money, invoice_language

from .conftest import asgi_http

pytestmark = pytest.mark.anyio

INVOICE = {
    "invoiceNumber": "INV-0042", "currency": "EUR", "issueDate": "2024-06-01", "dueDate": "2024-07-01",
    "lineItems": [
        {"description": "Développement web — refonte", "quantity": 40, "unitPrice": Decimal("125.00"),
         "amount": Decimal("5000.00"), "taxRate": 10},
        {"description": "Hébergement (œuvre collective)", "quantity": Decimal("1.5"), "unitPrice": Decimal("20.00"),
         "amount": Decimal("30.00"), "taxRate": Decimal("5.5")},
    ],
    "subtotal": Decimal("5030.00"), "taxTotal": Decimal("501.65"), "discountTotal": Decimal("0"),
    "total": Decimal("5531.65"), "notes": "Merci pour votre confiance", "terms": None,
}
CLIENT = {"name": "Café des Arts — Lyon", "address": "Bâtiment C, 18 boulevard Haussmann, 75009 Paris",
          "taxId": "523 987 410 00025", "email": "compta@cafe.example", "phone": "+33 (0)6 12-34-56-78"}


def text_of(pdf: bytes) -> str:
    """The text layer, whitespace collapsed (wrapped lines read as one)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_french_pdf_text_layer_has_every_labelled_field():
    pdf = render_invoice_pdf(INVOICE, CLIENT, ISSUER)
    assert pdf.startswith(b"%PDF-") and len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1
    text = text_of(pdf)
    for expected in (
        "FACTURE", "Facture N° : INV-0042", "Date d'émission : 01/06/2024", "Date d'échéance : 01/07/2024",
        "Devise : EUR", "Facturé à", "Café des Arts — Lyon", "Bâtiment C", "18 boulevard Haussmann", "75009 Paris",
        "SIRET : 52398741000025", "Email : compta@cafe.example", "Tél. : +33612345678",
        "Développement web — refonte", "Hébergement (œuvre collective)", "5 000,00 €", "1,5", "5,5",
        "Total HT : 5 030,00 €", "TVA : 501,65 €", "Total TTC : 5 531,65 €",
        "Conditions de paiement", "Paiement à 30 jours", "Pénalités de retard", "indemnité forfaitaire",
        "40,00 €", "Atelier Numérique SAS", f"SIRET : {ISSUER['siret']}", "FR76 3000 6000 0112 3456 7890 189",
    ):
        assert expected in text, expected


def test_english_for_usd_and_foreign_clients():
    us_client = {"name": "Acme Corp", "address": "123 Main St, New York, NY 10001", "taxId": "US-123456789",
                 "email": "ap@acme.example", "phone": "+1-555-0100"}
    text = text_of(render_invoice_pdf({**INVOICE, "currency": "USD"}, us_client, ISSUER))
    for expected in ("INVOICE", "Invoice No. : INV-0042", "Issue date : 2024-06-01", "Due date : 2024-07-01",
                     "Bill to", "Acme Corp", "123 Main St", "New York, NY 10001", "United States",
                     "Tax ID : US-123456789", "Phone : +1-555-0100", "Subtotal : $5,030.00", "Tax : $501.65",
                     "Total : $5,531.65", "Currency : USD"):
        assert expected in text, expected
    assert "Facture" not in text

    uk_client = {"name": "Thames Digital Ltd", "address": "10 Downing St, London SW1A 2AA, UK"}
    assert invoice_language(INVOICE, uk_client) == "en"
    assert "Total : €5,531.65" in text_of(render_invoice_pdf(INVOICE, uk_client, ISSUER))
    assert invoice_language(INVOICE, CLIENT) == "fr"
    assert invoice_language(INVOICE, {"name": "No address"}) == "fr"


def test_rendering_is_deterministic_and_survives_odd_input():
    assert render_invoice_pdf(INVOICE, CLIENT, ISSUER) == render_invoice_pdf(INVOICE, CLIENT, ISSUER)
    odd_client = {"name": "Łódź Spółka ✓", "address": "Chez Paul\nquelque part", "taxId": None, "email": None,
                  "phone": None}
    many_lines = {**INVOICE, "lineItems": [{**INVOICE["lineItems"][0], "description": f"Ligne {i}"} for i in range(60)]}
    pdf = render_invoice_pdf(many_lines, odd_client, ISSUER)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    text = text_of(pdf)
    assert "Lódz Spólka ?" in text  # transliterated where it can be, never a crash
    assert "Chez Paul" in text and "Ligne 59" in text and "Page 2/" in text


def test_money_and_address_formats():
    assert format_money(Decimal("5500"), "EUR", "fr") == "5 500,00 €"
    assert format_money(Decimal("-12.5"), "EUR", "fr") == "-12,50 €"
    assert format_money(Decimal("5500"), "USD", "en") == "$5,500.00"
    assert format_money(Decimal("5500"), "CHF", "en") == "CHF 5,500.00"
    assert format_money(Decimal("5500"), "CHF", "fr") == "5 500,00 CHF"
    assert address_lines("12 rue de la Paix 75002 PARIS France", "fr") == ["12 rue de la Paix", "75002 Paris"]
    assert address_lines("10 Downing St, London SW1A 2AA, UK", "en") == ["10 Downing St", "London SW1A 2AA",
                                                                          "United Kingdom"]


async def test_pdf_endpoint_serves_the_invoice(asgi_sandbox):
    async with asgi_http(asgi_sandbox) as http:
        ci = asgi_sandbox.client(http)
        inv = (await ci.list_invoices(search="INV-0001")).data[0]
        response = await http.get(f"{asgi_sandbox.base_url}/invoices/{inv.id}/pdf",
                                  headers={"Authorization": f"Bearer {asgi_sandbox.api_key}"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == 'attachment; filename="INV-0001.pdf"'
        text = text_of(response.content)
        assert "INV-0001" in text and inv.client.name in text


async def test_round_trip_every_seeded_invoice_through_the_extractor(make_asgi_sandbox):
    """CleverInvo invoice → sandbox PDF → Cleavr extractor → the same fields the mapping sends."""
    from cleavr_mcp.extraction import extract_invoice

    sandbox = make_asgi_sandbox(rate_limit_per_minute=10_000)
    mismatches: list[str] = []
    async with asgi_http(sandbox) as http:
        ci = sandbox.client(http)
        invoices = [i async for i in ci.iter_invoices()]
        assert len(invoices) == 40
        for row in invoices:
            inv = await ci.get_invoice(row.id)
            client = await ci.get_client(inv.client_id)
            response = await http.get(f"{sandbox.base_url}/invoices/{inv.id}/pdf",
                                      headers={"Authorization": f"Bearer {sandbox.api_key}"})
            got = extract_invoice(response.content)["data"]
            gi, gd = got["invoice"], got["debtor"]
            tax = recognise_tax_id(client.tax_id) or {}
            address = parse_address(client.address)
            contact = (gd.get("contacts") or [{}])[0]
            expected = {
                "number": inv.invoice_number, "issue_date": inv.issue_date, "due_date": inv.due_date,
                "amount": inv.total, "amount_before_tax": inv.subtotal, "tax_amount": inv.tax_total,
                "currency": inv.currency, "company_name": client.name, "email": client.email,
                "siret": tax.get("siret"), "vat_number": tax.get("vat_number"),
                "address": address.to_cleavr() if address else None,
            }
            actual = {
                "number": (gi.get("numbers") or [None])[0], "issue_date": _date(gi.get("issue_date")),
                "due_date": _date(gi.get("due_date")), "amount": _dec(gi.get("amount")),
                "amount_before_tax": _dec(gi.get("amount_before_tax")), "tax_amount": _dec(gi.get("tax_amount")),
                "currency": gi.get("currency"), "company_name": gd.get("company_name"), "email": contact.get("email"),
                "siret": gd.get("siret"), "vat_number": gd.get("vat_number"), "address": gd.get("address") or None,
            }
            valid_phone = normalize_phone(client.phone) if client.phone else None
            if valid_phone:
                expected["phone"], actual["phone"] = valid_phone, normalize_phone(contact.get("phone") or "")
            for key, value in expected.items():
                if actual[key] != value:
                    mismatches.append(f"{inv.invoice_number} {key}: extracted {actual[key]!r}, expected {value!r}")
    assert mismatches == []


def _date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value


def _dec(value):
    return Decimal(str(value)) if value is not None else None


async def test_pdf_of_a_created_invoice_reflects_its_edits(asgi_sandbox):
    async with asgi_http(asgi_sandbox) as http:
        ci = asgi_sandbox.client(http)
        client = (await ci.search_clients("Rousseau")).data[0]
        saved = await ci.create_invoice({
            "client_id": client.id, "invoice_number": "INV-0042", "issue_date": "2026-02-01",
            "due_date": "2026-03-03", "line_items": [{"description": "Conseil", "quantity": 40,
                                                      "unit_price": "125.00", "tax_rate": 10}]})
        await ci.update_invoice(saved.id, {"line_items": [{"description": "Conseil", "quantity": 50,
                                                           "unit_price": "125.00", "tax_rate": 10}]})
        response = await http.get(f"{asgi_sandbox.base_url}/invoices/{saved.id}/pdf",
                                  headers={"Authorization": f"Bearer {asgi_sandbox.api_key}"})
        text = text_of(response.content)
        assert "Total TTC : 6 875,00 €" in text and "Cabinet Rousseau Avocats" in text
        assert "N° TVA intracommunautaire : FR55852369149" in text
