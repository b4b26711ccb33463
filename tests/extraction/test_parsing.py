"""Parsers of invoice text: amounts, dates, numbers, currencies, language, and label → value reading."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cleavr_mcp.extraction.parsing import (
    detect_language,
    find_amounts,
    find_currencies,
    find_dates,
    find_number_tokens,
    numeric_date_order,
    parse_amount,
    parse_date,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 234,56 €", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56 €", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1,234,567.89", "1234567.89"),
        ("$ 279.84", "279.84"),
        ("€717,97", "717.97"),
        ("EUR 49,99", "49.99"),
        ("29.99", "29.99"),
        ("-9,32", "-9.32"),
        ("10 000€", "10000.00"),
        ("1.234", "1234.00"),  # one mark + three digits: thousands, invoices never show 3 decimals
        ("0 €", "0.00"),
    ],
)
def test_amounts(text, expected):
    assert parse_amount(text) == Decimal(expected)


def test_amounts_reject_nonsense_and_skip_percentages():
    assert parse_amount("1,234,56") is None  # the same mark cannot be both separators
    assert parse_amount("Total") is None
    found = find_amounts("TVA 20 % : 9,34 €   Tax 15% on $ 112.90   $ 16.94")
    assert [f.value for f in found] == [Decimal("9.34"), Decimal("112.90"), Decimal("16.94")]
    # Digits glued to letters are identifiers, not amounts.
    assert find_amounts("FR76 ref INV2023 A12") == []


@pytest.mark.parametrize(
    "text, order, expected",
    [
        ("02/07/2015", "DMY", date(2015, 7, 2)),
        ("02/07/2015", "MDY", date(2015, 2, 7)),
        ("20/03/2023", "MDY", date(2023, 3, 20)),  # unambiguous beats the document order
        ("03/20/2023", "DMY", date(2023, 3, 20)),
        ("8-9-2022", "DMY", date(2022, 9, 8)),
        ("28.11.2022", "DMY", date(2022, 11, 28)),
        ("2015-07-02", "MDY", date(2015, 7, 2)),
        ("2 juillet 2015", "DMY", date(2015, 7, 2)),
        ("1er août 2024", "DMY", date(2024, 8, 1)),
        ("le 05 Juillet 2015", "DMY", date(2015, 7, 5)),
        ("3 févr. 2024", "DMY", date(2024, 2, 3)),
        ("July 2, 2015", "DMY", date(2015, 7, 2)),
        ("Jul. 2nd, 2015", "DMY", date(2015, 7, 2)),
        ("02 Jul 2015", "MDY", date(2015, 7, 2)),
        ("19 april 2014", "DMY", date(2014, 4, 19)),
        ("31/12/24", "DMY", date(2024, 12, 31)),
    ],
)
def test_dates(text, order, expected):
    assert parse_date(text, order) == expected


def test_impossible_dates_are_not_dates():
    assert find_dates("31/02/2024 and 2024-13-01") == []
    assert find_dates("version 12.05.24") == []


def test_numeric_date_order_from_evidence_then_context():
    assert numeric_date_order("Invoice Date: 03/20/2023", "en", "USD") == "MDY"
    assert numeric_date_order("Date : 28/11/2022", "fr", "EUR") == "DMY"
    # nothing unambiguous: an English invoice in dollars reads month first, anything else day first
    assert numeric_date_order("Date: 03/05/2024", "en", "USD") == "MDY"
    assert numeric_date_order("Date: 03/05/2024", "en", "EUR") == "DMY"
    assert numeric_date_order("Date : 03/05/2024", "fr", None) == "DMY"


def test_number_tokens_skip_dates_amounts_and_percentages():
    tokens = [f.value for f in find_number_tokens(" INV/2023/03/0008 du 02/07/2015, 20 % 45,93 F-1 et VF1005193039")]
    assert tokens == ["INV/2023/03/0008", "F-1", "VF1005193039"]


def test_currencies():
    assert [f.value for f in find_currencies("€ 12 — 12 $ — EUR 3 — USD — 40 euros — £5")] == [
        "EUR", "USD", "EUR", "USD", "EUR", "GBP"]
    assert find_currencies("EUROPE, EURL") == []


def test_language():
    assert detect_language("Facture n° 12 — Date d'échéance — Total TTC — Net à payer") == "fr"
    assert detect_language("Invoice # 12 — Due date — Amount due — Bill to") == "en"
    assert detect_language("Factuurnummer — Vervaldatum — Totaal — BTW") == "nl"


# --- label → value, through the whole extractor on small layout texts --------------------------------------------
def _extract(text: str) -> dict:
    from cleavr_mcp.extraction.extract import extract_from_pages

    return extract_from_pages([text])


def test_values_beside_and_below_their_labels():
    text = (
        "Invoice Date:             Due Date:                Reference:\n"
        "03/20/2023                04/04/2023               CUSTREF123\n"
        "\n"
        "Invoice   INV/2023/03/0008\n"
        "                          Subtotal                     $ 262.90\n"
        "                          Tax 15% on $ 112.90           $ 16.94\n"
        "                          Total                        $ 279.84\n"
    )
    inv = _extract(text)["data"]["invoice"]
    assert inv["numbers"] == ["INV/2023/03/0008"]
    assert inv["issue_date"] == date(2023, 3, 20) and inv["due_date"] == date(2023, 4, 4)
    assert (inv["amount"], inv["amount_before_tax"], inv["tax_amount"]) == (
        Decimal("279.84"), Decimal("262.90"), Decimal("16.94"))
    assert inv["currency"] == "USD"


def test_french_labels():
    text = (
        "Facture N° F-2024-017 du 2 juillet 2024\n"
        "Date limite de paiement le 1er août 2024\n"
        "Objet : Maintenance du parc informatique\n"
        "Montant HT : 1 000,00 €\n"
        "TVA (20 %) : 200,00 €\n"
        "Net à payer : 1 200,00 €\n"
        "Conditions de règlement : 30 jours fin de mois.\n"
        "Pénalités de retard : 10 % par an.\n"
    )
    inv = _extract(text)["data"]["invoice"]
    assert inv == {
        "numbers": ["F-2024-017"],
        "issue_date": date(2024, 7, 2),
        "due_date": date(2024, 8, 1),
        "amount": Decimal("1200.00"),
        "amount_before_tax": Decimal("1000.00"),
        "tax_amount": Decimal("200.00"),
        "currency": "EUR",
        "service_description": "Maintenance du parc informatique",
        "payment_terms": "30 jours fin de mois",
        "late_penalty_rate": Decimal("10.00"),
    }


def test_multi_invoice_list_and_vat_number_is_not_a_tax_amount():
    text = (
        "Factures n° F-101, F-102 et F-103\n"
        "Lyon, le 3 mars 2024\n"
        "N° TVA intracommunautaire : FR 604 219 388 61\n"
        "Total TTC : 3 600,00 €\n"
    )
    inv = _extract(text)["data"]["invoice"]
    assert inv["numbers"] == ["F-101", "F-102", "F-103"]
    assert inv["issue_date"] == date(2024, 3, 3)
    assert "tax_amount" not in inv


def test_monthly_late_fee_becomes_annual():
    inv = _extract("Invoice # 7\nA late fee of 1.5% per month applies to overdue balances.\n")["data"]["invoice"]
    assert inv["late_penalty_rate"] == Decimal("18.00")
    inv = _extract("Late payment interest: 12% per annum.\n")["data"]["invoice"]
    assert inv["late_penalty_rate"] == Decimal("12.00")
    # a legal formula without a rate gives no rate (and the VAT rate above it is not taken for one)
    inv = _extract("TVA 20 %  40,00 €\nPénalités de retard : trois fois le taux d'intérêt légal.\n")["data"]["invoice"]
    assert "late_penalty_rate" not in inv
