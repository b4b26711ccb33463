"""Confidence means something: labelled and cross-checked → high; missing, guessed or inconsistent → below 0.8."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from cleavr_mcp.cleavr.models import Extraction
from cleavr_mcp.extraction.extract import extract_from_pages

HEADER = (
    "Atelier Numérique SAS                              Facturé à :\n"
    "8 rue des Lilas                                    Dupont Industrie SAS\n"
    "69003 Lyon                                         À l'attention de Marie Martin\n"
    "contact@atelier.example                            12 rue de la République\n"
    "                                                   69002 Lyon\n"
    "                                                   SIRET : {siret}\n"
    "                                                   N° TVA : FR44732829320\n"
    "{email_line}"
    "{phone_line}"
    "\n"
)
BODY = (
    "Facture N° F-2024-001\n"
    "Date de facture : {issue}\n"
    "Date d'échéance : {due}\n"
    "Objet : Maintenance informatique\n"
    "\n"
    "                                   Total HT :      1 000,00 €\n"
    "                                   TVA 20 % :        200,00 €\n"
    "                                   Total TTC :     {total} €\n"
)
EMAIL = "                                                   Email : marie.martin@dupont.example\n"
PHONE = "                                                   Tél : 06 12 34 56 78\n"


def extract(*, siret="732 829 320 00074", email=True, phone=True, issue="01/03/2024", due="31/03/2024",
            total="1 200,00", header=None):
    text = (header if header is not None else HEADER).format(
        siret=siret, email_line=EMAIL if email else "", phone_line=PHONE if phone else ""
    ) + BODY.format(issue=issue, due=due, total=total)
    result = extract_from_pages([text])
    Extraction.model_validate({"extraction_id": "ext_test0001", **result})  # always the contract's shape
    return result


def test_complete_labelled_and_cross_checked_invoice_scores_high():
    r = extract()
    assert r["missing_fields"] == [] and r["warnings"] == []
    assert r["confidence"] >= 0.9
    fc = r["field_confidence"]
    for path in ("invoice.amount", "invoice.amount_before_tax", "invoice.tax_amount", "debtor.siret",
                 "debtor.vat_number", "invoice.issue_date", "invoice.due_date"):
        assert fc[path] >= 0.9, path
    debtor = r["data"]["debtor"]
    assert debtor["company_name"] == "Dupont Industrie SAS" and debtor["company_type"] == "company"
    assert debtor["address"] == {"line1": "12 rue de la République", "postal_code": "69002", "city": "Lyon",
                                 "country": "FR"}
    assert debtor["contacts"] == [{"level": 0, "first_name": "Marie", "last_name": "Martin",
                                   "email": "marie.martin@dupont.example", "phone": "+33612345678"}]
    # the issuer's details are not the debtor's
    assert "contact@atelier.example" not in str(debtor)


def test_missing_email_drops_below_the_review_threshold():
    r = extract(email=False)
    assert "debtor.contacts[0].email" in r["missing_fields"]
    assert r["confidence"] < 0.8


def test_missing_phone_is_reported_but_not_required():
    r = extract(phone=False)
    assert r["missing_fields"] == ["debtor.contacts[0].phone"]
    assert r["confidence"] >= 0.8


def test_missing_due_date():
    r = extract(due="")
    assert "invoice.due_date" in r["missing_fields"] and "due_date" not in r["data"]["invoice"]
    assert r["confidence"] < 0.8


def test_amount_cross_check_failure_lowers_confidence_and_warns():
    r = extract(total="1 250,00")
    assert r["data"]["invoice"]["amount"] == Decimal("1250.00")
    assert r["field_confidence"]["invoice.amount"] <= 0.6
    assert any(w["field"] == "invoice.amount" and "≠" in w["message"] for w in r["warnings"])
    assert r["confidence"] < 0.8


def test_invalid_siret_is_kept_with_a_warning():
    r = extract(siret="732 829 320 00075")
    assert r["data"]["debtor"]["siret"] == "73282932000075"
    assert {"field": "debtor.siret", "message": "SIRET checksum (Luhn) fails",
            "extracted_value": "73282932000075"} in r["warnings"]
    assert r["field_confidence"]["debtor.siret"] <= 0.5
    assert r["confidence"] < 0.8
    r = extract(siret="732 829 320")
    assert any(w["field"] == "debtor.siret" for w in r["warnings"])


def test_due_before_issue_is_flagged():
    r = extract(issue="31/03/2024", due="01/03/2024")
    assert r["data"]["invoice"]["due_date"] == date(2024, 3, 1)
    assert any(w["field"] == "invoice.due_date" for w in r["warnings"])
    assert r["confidence"] < 0.8


def test_unlabelled_debtor_is_a_low_confidence_guess():
    header = HEADER.replace("Facturé à :", "           ")
    r = extract(header=header)
    assert r["data"]["debtor"]["company_name"] == "Dupont Industrie SAS"
    assert r["field_confidence"]["debtor.company_name"] <= 0.6
    assert r["confidence"] < 0.8


def test_non_euro_currency_warns():
    r = extract_from_pages(["Invoice # 12\nInvoice Date: 03/05/2024\nAmount Due: $1,200.00\n"])
    assert r["data"]["invoice"]["currency"] == "USD"
    assert any(w["field"] == "invoice.currency" and "EUR" in w["message"] for w in r["warnings"])


def test_nothing_readable_gives_zero_confidence_and_all_required_missing():
    r = extract_from_pages(["Lorem ipsum dolor sit amet"])
    assert r["confidence"] == 0
    assert r["missing_fields"][:7] == [
        "invoice.numbers", "invoice.issue_date", "invoice.due_date", "invoice.amount", "invoice.currency",
        "debtor.company_name", "debtor.contacts[0].email"]
