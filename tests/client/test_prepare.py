"""Local validation: the API's codes and fields, messages that say what to do, and normalisation."""

from __future__ import annotations

import pytest

from cleavr_mcp.cleavr import CleavrValidationError, has_email, has_phone, prepare_receivable

from .helpers import DELETE, receivable_request


def test_normalises_phone_siret_vat_currency():
    req = receivable_request(
        invoice__currency="eur",
        debtor__siret="732 829 320 00074",
        debtor__vat_number="fr44 732 829 320",
        debtor__contacts=[{"email": "a@b.example", "phone": "06 12 34 56 78"}, {"email": "c@d.example", "phone": "+33 6 98 76 54 32"}],
    )
    out = prepare_receivable(req)
    assert out.invoice.currency == "EUR"
    assert out.debtor.siret == "73282932000074"
    assert out.debtor.vat_number == "FR44732829320"
    assert [c.phone for c in out.debtor.contacts] == ["+33612345678", "+33698765432"]
    assert req.debtor.contacts[0].phone == "06 12 34 56 78"  # the input is not mutated


def test_foreign_vat_is_refused_like_the_api_does():
    with pytest.raises(CleavrValidationError) as info:
        prepare_receivable(receivable_request(debtor__vat_number="BE0403170701"))
    assert info.value.field == "debtor.vat_number" and "leave it out" in info.value.message


def test_national_numbers_follow_the_debtor_country():
    req = receivable_request(debtor__address={"line1": "Rue Neuve 1", "city": "Bruxelles", "postal_code": "1000",
                                              "country": "BE"},
                             debtor__contacts=[{"email": "a@b.example", "phone": "0470 12 34 56"}])
    assert prepare_receivable(req).debtor.contacts[0].phone == "+32470123456"


@pytest.mark.parametrize(
    ("changes", "code", "field", "hint"),
    [
        ({"debtor__contacts": [{"first_name": "No", "phone": "0612345678"}]}, "MISSING_EMAIL_CONTACT",
         "debtor.contacts[0].email", "email"),
        ({"debtor__contacts": []}, "MISSING_EMAIL_CONTACT", "debtor.contacts[0].email", "email"),
        ({"debtor__siret": "73282932000075"}, "INVALID_SIRET", "debtor.siret", "14 digits"),
        ({"debtor__siret": "732829320"}, "INVALID_SIRET", "debtor.siret", "SIREN"),
        ({"invoice__currency": "USD"}, "INVALID_CURRENCY", "invoice.currency", "EUR"),
        ({"invoice__amount": "5000.01"}, "AMOUNT_MISMATCH", "invoice.amount", "4166.67 + tax_amount 833.33"),
        ({"invoice__due_date": "2025-07-31"}, "INVALID_DATES", "invoice.due_date", "before issue_date"),
        ({"debtor__contacts": [{"email": "a@b.example"}, {"email": "c@d.example", "phone": "+1-555-0100"}]},
         "VALIDATION_ERROR", "debtor.contacts[1].phone", "+33612345678"),
        ({"debtor__vat_number": "FR00732829320"}, "VALIDATION_ERROR", "debtor.vat_number", "key matches"),
        ({"invoice__numbers": ["A-1", "A-2", "A-1"]}, "VALIDATION_ERROR", "invoice.numbers[2]", "twice"),
    ],
    ids=["no-email", "no-contacts", "siret-checksum", "siren-given", "currency", "amount", "dates", "phone", "vat",
         "dup-number"],
)
def test_refusals_use_the_api_codes(changes, code, field, hint):
    with pytest.raises(CleavrValidationError) as info:
        prepare_receivable(receivable_request(**changes))
    err = info.value
    assert (err.code, err.field, err.status) == (code, field, None)
    assert hint in err.message
    assert str(err).startswith(f"{code}: ")


def test_amount_check_only_when_both_parts_are_given():
    req = receivable_request(invoice__amount="123.45", invoice__tax_amount=DELETE)
    assert prepare_receivable(req).invoice.amount == req.invoice.amount


def test_la_poste_siret_is_accepted():
    assert prepare_receivable(receivable_request(debtor__siret="35600000000048")).debtor.siret == "35600000000048"


def test_has_phone_and_has_email():
    assert has_phone(receivable_request()) and has_email(receivable_request())
    no_phone = receivable_request(debtor__contacts=[{"email": "a@b.example", "phone": "  "}])
    assert not has_phone(no_phone) and has_email(no_phone)
    assert not has_email(receivable_request(debtor__contacts=[{"phone": "0612345678"}]))
