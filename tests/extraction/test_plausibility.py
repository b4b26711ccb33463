"""Plausibility checks run before confidence: a value that fails one is dropped or flagged, never sure.

Each test is a small layout text through the whole extractor (`extract_from_pages`), built on the failures the
accuracy report found on real invoices.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cleavr_mcp.extraction.extract import extract_from_pages

HIGH = 0.9


def _extract(text: str) -> dict:
    return extract_from_pages([text])


def test_the_arithmetic_must_hold_before_tax_plus_tax_is_the_total():
    good = _extract("Total HT : 1 000,00 €\nTVA 20 % : 200,00 €\nTotal TTC : 1 200,00 €\n")
    assert good["field_confidence"]["invoice.amount"] >= 0.97  # checked: raised above a label's 0.92
    bad = _extract("Total HT : 1 000,00 €\nTVA 20 % : 200,00 €\nTotal TTC : 1 250,00 €\n")
    assert any(w["field"] == "invoice.amount" and "≠" in w["message"] for w in bad["warnings"])
    for key in ("amount", "amount_before_tax", "tax_amount"):
        assert bad["field_confidence"][f"invoice.{key}"] < HIGH
    assert bad["confidence"] <= 0.75


def test_line_items_that_sum_to_the_subtotal_confirm_it_and_ones_that_do_not_are_flagged():
    table = (
        "Description                      Qty       Amount\n"
        "Audit                              1     1 000,00 €\n"
        "Formation                          2       500,00 €\n"
        "\n"
        "                         Sous-total :    {sub} €\n"
    )
    ok = _extract(table.format(sub="1 500,00"))
    assert ok["data"]["invoice"]["amount_before_tax"] == Decimal("1500.00")
    assert ok["field_confidence"]["invoice.amount_before_tax"] >= 0.97
    off = _extract(table.format(sub="1 700,00"))
    assert any(w["field"] == "invoice.amount_before_tax" and "line items" in w["message"] for w in off["warnings"])
    assert off["field_confidence"]["invoice.amount_before_tax"] < HIGH


def test_tax_may_not_exceed_the_total():
    result = _extract("Tax : 900,00 €\nTotal : 120,00 €\n")
    assert "tax_amount" not in result["data"]["invoice"]
    assert any(w["field"] == "invoice.tax_amount" for w in result["warnings"])


def test_a_vat_registration_number_is_never_a_tax_amount():
    # The Flipkart invoice: `VAT/TIN: 29670869006` was read as a VAT amount of 29,670,869,006.00 at 0.92.
    result = _extract(
        "Invoice Date: 20-10-2015\n"
        "VAT/TIN: 29670869006\n"
        "Grand Total      319.00\n"
    )
    assert "tax_amount" not in result["data"]["invoice"]
    assert result["data"]["invoice"]["amount"] == Decimal("319.00")
    # a German VAT id in groups after its country code, and a bare 11-digit number, are not money either
    result = _extract("MwSt. DE 232 446 240\nUSt 12345678901\nGesamtbetrag 34,73 EUR\n")
    assert "tax_amount" not in result["data"]["invoice"]


def test_a_postcode_is_never_an_invoice_number_unless_labelled():
    # `Invoice No : # X` beside its label; the postcode at the end of an address line below is not a second one.
    text = (
        "                                  Invoice No : # BLR_WFLD20151000982590\n"
        "Sold By : WS Retail, Bangalore, India - 560067\n"
    )
    assert _extract(text)["data"]["invoice"]["numbers"] == ["BLR_WFLD20151000982590"]
    column = (
        "Invoice No\n"
        "Bangalore, Karnataka - 560067\n"
    )
    assert "numbers" not in _extract(column)["data"]["invoice"]
    # labelled as one, a 5-digit number is an invoice number
    assert _extract("Invoice No: 56006\n")["data"]["invoice"]["numbers"] == ["56006"]


def test_label_words_are_never_names():
    # AWS: `Bill to Address:` then `ATTN: iViveLabs Limited` - "Address" became the company at 0.92.
    result = _extract(
        "Bill to Address:\n"
        "ATTN: iViveLabs Limited\n"
        "93B Sai Yu Chung\n"
    )
    assert result["data"]["debtor"]["company_name"] == "iViveLabs Limited"
    result = _extract("Käufer:\nNummer : GE2020211\nName : Kunden AG Mitte\nAnschrift : Kundenstraße 15\n")
    assert result["data"]["debtor"]["company_name"] == "Kunden AG Mitte"
    result = _extract("Billing Address\nAddress\nName:\n")
    assert "company_name" not in result["data"]["debtor"]


def test_a_guessed_debtor_and_a_derived_total_get_low_confidence():
    # No bill-to heading: the window envelope's sender line says who the recipient is - a convention, a guess.
    result = _extract(
        "   Atelier SAS - 8 rue des Lilas - 69003 Lyon\n"
        "\n"
        "   Dupont Industrie SAS\n"
        "   12 rue de la Paix\n"
        "   75002 Paris\n"
        "Total HT : 100,00 €\nTVA : 20,00 €\n"
    )
    assert result["data"]["debtor"]["company_name"] == "Dupont Industrie SAS"
    assert result["field_confidence"]["debtor.company_name"] < 0.8
    assert result["data"]["invoice"]["amount"] == Decimal("120.00")  # HT + TVA: derived, not read
    assert result["field_confidence"]["invoice.amount"] < 0.8


def test_no_currency_is_invented():
    result = _extract("Invoice # 12\nDate: 2024-03-01\nTotal: 100.00\n")
    assert "currency" not in result["data"]["invoice"]
    assert "invoice.currency" in result["missing_fields"]
    rupees = _extract("Grand Total     Rs 1939\n")
    assert rupees["data"]["invoice"]["currency"] == "INR"
    assert any(w["field"] == "invoice.currency" and "EUR" in w["message"] for w in rupees["warnings"])


def test_the_issuers_numbers_are_not_the_debtors():
    result = _extract(
        "Facture N° F-1 du 02/01/2024\n"
        "Facturé à :\n"
        "Garage des Alpes SARL\n"
        "3 place Bellecour\n"
        "69002 Lyon\n"
        "Total TTC : 120,00 €\n"
    )
    assert result["data"]["invoice"]["issue_date"] == date(2024, 1, 2)
    assert result["data"]["debtor"]["address"]["postal_code"] == "69002"
    assert result["data"]["invoice"]["numbers"] == ["F-1"]
