"""Each language's labels, month names and loose date forms, and its document-level detection.

French, English, German, Dutch, Spanish and Italian: one small invoice per language through the whole extractor,
then the date forms the accuracy report found unread (`August 3 , 2014`, `7. Mai 2014`, `21.05.14`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cleavr_mcp.extraction.extract import extract_from_pages
from cleavr_mcp.extraction.parsing import detect_language, find_currencies, find_dates

INVOICES = {
    "fr": (
        "Facture n° F-2024-017\nDate de facture : 2 juillet 2024\nDate d'échéance : 1er août 2024\n"
        "Facturé à :\nDupont Industrie SAS\n12 rue de la Paix\n75002 Paris\n"
        "Total HT : 1 000,00 €\nTVA 20 % : 200,00 €\nTotal TTC : 1 200,00 €\n",
        ("F-2024-017", date(2024, 7, 2), date(2024, 8, 1), "1200.00", "Dupont Industrie SAS"),
    ),
    "en": (
        "Invoice number: INV-88\nInvoice date: August 3 , 2014\nPayment due: September 2, 2014\n"
        "Bill to:\nGlobex Corporation\n300 Boylston Street\nBoston, MA 02116\n"
        "Subtotal: $1,000.00\nSales tax: $80.00\nAmount due: $1,080.00\n",
        ("INV-88", date(2014, 8, 3), date(2014, 9, 2), "1080.00", "Globex Corporation"),
    ),
    "de": (
        "Rechnungsnr.: 30064443\nRechnungsdatum: 7. Mai 2014\nZahlungsziel: 21.05.14\n"
        "Rechnungsadresse:\nMüller Maschinenbau GmbH\nHauptstraße 12\n10115 Berlin\n"
        "Nettobetrag: 100,00 €\nMwSt. 19 %: 19,00 €\nGesamtbetrag: 119,00 €\n",
        ("30064443", date(2014, 5, 7), date(2014, 5, 21), "119.00", "Müller Maschinenbau GmbH"),
    ),
    "nl": (
        "Factuurnummer: 992288600\nFactuurdatum: 29 maart 2014\nVervaldatum: 28-04-2014\n"
        "Factuuradres:\nVan Dijk Installaties B.V.\nKeizersgracht 123\n1012 AB Amsterdam\n"
        "Subtotaal: € 100,00\nBTW 21%: € 21,00\nTotaal incl. BTW: € 121,00\n",
        ("992288600", date(2014, 3, 29), date(2014, 4, 28), "121.00", "Van Dijk Installaties B.V."),
    ),
    "es": (
        "Nº de factura: F2024-12\nFecha de factura: 3 de marzo de 2024\nFecha de vencimiento: 02/04/2024\n"
        "Facturar a:\nConstrucciones García S.L.\nCalle Mayor 15\n28013 Madrid\n"
        "Base imponible: 100,00 €\nIVA 21 %: 21,00 €\nTotal a pagar: 121,00 €\n",
        ("F2024-12", date(2024, 3, 3), date(2024, 4, 2), "121.00", "Construcciones García S.L."),
    ),
    "it": (
        "Fattura n.: 2024/77\nData fattura: 12 aprile 2024\nScadenza: 12 maggio 2024\n"
        "Spett.le\nRossi Costruzioni S.r.l.\nVia Roma 25\n00184 Roma\n"
        "Imponibile: 100,00 €\nIVA 22%: 22,00 €\nTotale documento: 122,00 €\n",
        ("2024/77", date(2024, 4, 12), date(2024, 5, 12), "122.00", "Rossi Costruzioni S.r.l."),
    ),
}


@pytest.mark.parametrize("language", sorted(INVOICES))
def test_each_languages_labels(language):
    text, (number, issue, due, amount, debtor) = INVOICES[language]
    assert detect_language(text) == language
    result = extract_from_pages([text])
    inv = result["data"]["invoice"]
    assert inv["numbers"] == [number]
    assert (inv["issue_date"], inv["due_date"]) == (issue, due)
    assert inv["amount"] == Decimal(amount)
    assert inv["amount"] == inv["amount_before_tax"] + inv["tax_amount"]
    assert result["field_confidence"]["invoice.amount"] >= 0.97  # the arithmetic held
    assert result["data"]["debtor"]["company_name"] == debtor


@pytest.mark.parametrize(("text", "expected"), [
    ("August 3 , 2014", date(2014, 8, 3)),
    ("Jan 1, 2022", date(2022, 1, 1)),
    ("7. Mai 2014", date(2014, 5, 7)),
    ("15. März 2018", date(2018, 3, 15)),
    ("21.05.14", date(2014, 5, 21)),
    ("29 juillet 2026", date(2026, 7, 29)),
    ("1er août 2024", date(2024, 8, 1)),
    ("29 maart 2014", date(2014, 3, 29)),
    ("3 de marzo de 2024", date(2024, 3, 3)),
    ("12 aprile 2024", date(2024, 4, 12)),
    ("2 dicembre 2023", date(2023, 12, 2)),
    ("15-10-2015", date(2015, 10, 15)),
])
def test_loose_date_forms(text, expected):
    assert [f.value for f in find_dates(f"Datum: {text}")] == [expected]


def test_words_that_are_not_months_make_no_date():
    assert find_dates("Net 30 days 2024") == []
    assert find_dates("Seite 1 von 2") == []
    assert find_dates("version 12.05.24") == []


def test_currency_markers():
    text = "€ 1 | EUR 2 | $ 3 | USD 4 | £ 5 | CHF 6 | Rs 7 | Rs. 8 | ₹ 9 | INR 10 | 40 dollars | Mrs Smith"
    assert [f.value for f in find_currencies(text)] == [
        "EUR", "EUR", "USD", "USD", "GBP", "CHF", "INR", "INR", "INR", "INR", "USD"]


def test_debtor_block_headings_and_inline_contact_lines():
    for heading in ("Bill to:", "Billing Address", "ATTN:", "Rechnungsadresse:", "Client :", "Facturé à :"):
        result = extract_from_pages([f"{heading}\nDupont Industrie SAS\n12 rue de la Paix\n75002 Paris\n"])
        assert result["data"]["debtor"].get("company_name") == "Dupont Industrie SAS", heading
    letter = extract_from_pages([
        "Lyon, le 29 juillet 2026\n"
        "Client : Garage des Alpes SARL, 11 rue Alsace-Lorraine, 31000 Toulouse — N° SIRET client : 73282932000074\n"
        "Contact : Marie Martin <marie.martin@garage.example>, 06 12 34 56 78\n"
    ])
    debtor = letter["data"]["debtor"]
    assert letter["data"]["invoice"]["issue_date"] == date(2026, 7, 29)
    assert debtor["company_name"] == "Garage des Alpes SARL"
    assert debtor["address"]["line1"] == "11 rue Alsace-Lorraine" and debtor["address"]["city"] == "Toulouse"
    assert debtor["siret"] == "73282932000074"
    assert debtor["contacts"][0] == {"level": 0, "first_name": "Marie", "last_name": "Martin",
                                     "email": "marie.martin@garage.example", "phone": "+33612345678"}
    attn = extract_from_pages([
        "Client : Garage des Alpes SARL, 11 rue Alsace-Lorraine, 31000 Toulouse\n"
        "Attn: Marie Martin · marie.martin@garage.example · +33 6 12 34 56 78\n"
    ])
    assert attn["data"]["debtor"]["contacts"][0]["phone"] == "+33612345678"
    assert attn["data"]["debtor"]["contacts"][0]["last_name"] == "Martin"
