"""Mapping rules from a CleverInvo invoice + client to a Cleavr receivable, on tricky data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.models import ReceivableCreate
from cleavr_mcp.cleverinvo.mapping import (
    Blocker,
    NotRecoverableError,
    ParsedAddress,
    assess,
    idempotency_key_for_invoice,
    parse_address,
    recognise_tax_id,
    recoverability,
    to_receivable,
)
from cleavr_mcp.cleverinvo.models import Client, Invoice, InvoiceSummary

TODAY = date(2026, 3, 1)
USER = "usr_clv_a1b2c3d4e5f6"


def make_client(**over) -> Client:
    data = {
        "id": "clxclient1", "name": "Boulangerie Martin SARL", "email": "compta@martin.example",
        "address": "12 rue de la Paix, 75002 Paris", "taxId": "523 987 410 00025", "phone": "06 12 34 56 78",
        "notes": None, "isActive": True,
    }
    data.update(over)
    return Client.model_validate(data)


def make_invoice(**over) -> Invoice:
    # JSON as the API sends it, parsed like the client parses it (numbers → Decimal, never float).
    data = wire.loads(
        '{"id": "clxinv1", "clientId": "clxclient1", "invoiceNumber": "INV-0042", "currency": "EUR",'
        ' "issueDate": "2026-01-01", "dueDate": "2026-01-31", "subtotal": 5000.00, "taxTotal": 1000.00,'
        ' "discountTotal": 0, "total": 6000.00, "status": "OVERDUE", "amountPaid": 0.00,'
        ' "client": {"name": "Boulangerie Martin SARL", "email": "compta@martin.example"},'
        ' "lineItems": [{"description": "Web Development", "quantity": 40, "unitPrice": 125.00, "amount": 5000.00,'
        ' "taxRate": 20}], "terms": "Paiement à 30 jours"}'
    )
    data.update(over)
    return Invoice.model_validate(data)


# --- addresses ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 rue de la Paix, 75002 Paris", ("12 rue de la Paix", None, "75002", "Paris", "FR")),
        ("12 rue de la Paix 75002 PARIS France", ("12 rue de la Paix", None, "75002", "Paris", "FR")),
        ("12 rue de la Paix 75002 Paris FR", ("12 rue de la Paix", None, "75002", "Paris", "FR")),
        ("27 rue Victor Hugo\n33000 Bordeaux", ("27 rue Victor Hugo", None, "33000", "Bordeaux", "FR")),
        ("Bâtiment C, 18 boulevard Haussmann, 75009 Paris",
         ("18 boulevard Haussmann", "Bâtiment C", "75009", "Paris", "FR")),
        ("5 quai Saint-Antoine, 69002 Lyon, France", ("5 quai Saint-Antoine", None, "69002", "Lyon", "FR")),
        ("Lieu-dit Les Granges, 24200 Sarlat-la-Canéda",
         ("Lieu-dit Les Granges", None, "24200", "Sarlat-la-Canéda", "FR")),
        ("10 Downing St, London SW1A 2AA, UK", ("10 Downing St", None, "SW1A 2AA", "London", "GB")),
        ("10 Downing Street London SW1A2AA United Kingdom", ("10 Downing Street", None, "SW1A 2AA", "London", "GB")),
        ("Flat 2, 5 High Road, Milton Keynes MK9 2FZ", ("5 High Road", "Flat 2", "MK9 2FZ", "Milton Keynes", "GB")),
        ("123 Main St, New York, NY 10001", ("123 Main St", None, "10001", "New York", "US")),
        ("123 Main St New York NY 10001", ("123 Main St", None, "10001", "New York", "US")),
        ("1600 Pennsylvania Ave NW, Washington, DC 20500, USA",
         ("1600 Pennsylvania Ave NW", None, "20500", "Washington", "US")),
        ("Rue Neuve 12, 1000 Bruxelles, Belgique", ("Rue Neuve 12", None, "1000", "Bruxelles", "BE")),
        ("Musterstraße 1, 10115 Berlin, Germany", ("Musterstraße 1", None, "10115", "Berlin", "DE")),
    ],
)
def test_parse_address_formats(text, expected):
    got = parse_address(text)
    assert (got.line1, got.line2, got.postal_code, got.city, got.country) == expected
    assert got.complete and got.raw == text


def test_parse_address_keeps_state_and_refuses_to_guess():
    us = parse_address("123 Main St, New York, NY 10001")
    assert us.region == "NY"
    assert us.to_cleavr() == {"line1": "123 Main St", "city": "New York, NY", "postal_code": "10001", "country": "US"}
    assert parse_address("") is None and parse_address(None) is None
    city_only = parse_address("Paris")
    assert (city_only.postal_code, city_only.city, city_only.country) == (None, None, None)
    assert city_only.to_cleavr() is None
    no_street = parse_address("London SW1A 2AA")
    assert (no_street.line1, no_street.city, no_street.postal_code) == (None, "London", "SW1A 2AA")
    assert no_street.to_cleavr() is None
    assert ParsedAddress("1 rue A", "Bât B", "75001", "Paris", "FR").to_cleavr()["line2"] == "Bât B"


# --- tax ids -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("523 987 410 00025", {"siret": "52398741000025"}),
        ("398.456.129.00046", {"siret": "39845612900046"}),
        ("SIRET : 523 987 410 00025", {"siret": "52398741000025"}),
        ("901 276 543", {"siren": "901276543"}),
        ("SIREN 901-276-543", {"siren": "901276543"}),
        ("FR 83 448 712 356", {"vat_number": "FR83448712356"}),
        ("fr55852369149", {"vat_number": "FR55852369149"}),
        ("TVA intracom : FR55 852 369 149", {"vat_number": "FR55852369149"}),
        ("FR00852369149", {"invalid": "FR00852369149"}),  # wrong VAT key
        ("12345678901234", {"invalid": "12345678901234"}),  # 14 digits, Luhn fails
        ("123456789", {"invalid": "123456789"}),  # 9 digits, Luhn fails
        ("US-123456789", {"foreign": "US-123456789"}),
        ("GB123456789", {"foreign": "GB123456789"}),
        ("BE0123456789", {"foreign": "BE0123456789"}),
        ("  ", None),
        (None, None),
    ],
)
def test_recognise_tax_id(text, expected):
    assert recognise_tax_id(text) == expected


# --- recoverability ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "due", "ok", "code"),
    [
        ("OVERDUE", "2026-01-31", True, None),
        ("OVERDUE", "2026-03-10", True, None),  # the status says overdue: trust it
        ("SENT", "2026-02-28", True, None),
        ("VIEWED", "2026-02-01", True, None),
        ("PARTIALLY_PAID", "2026-02-01", True, None),
        ("SENT", "2026-03-01", False, Blocker.NOT_DUE),  # due today is not past due
        ("VIEWED", "2026-04-01", False, Blocker.NOT_DUE),
        ("PARTIALLY_PAID", "2026-03-02", False, Blocker.NOT_DUE),
        ("PAID", "2025-01-01", False, Blocker.PAID),
        ("DRAFT", "2025-01-01", False, Blocker.DRAFT),
        ("CANCELLED", "2025-01-01", False, Blocker.UNKNOWN_STATUS),
    ],
)
def test_recoverability_by_status_and_due_date(status, due, ok, code):
    invoice = make_invoice(status=status, dueDate=due, amountPaid=Decimal("100.00"))
    recoverable, reasons = recoverability(invoice, make_client(), TODAY, set())
    assert recoverable is ok
    verdict = assess(invoice, make_client(), TODAY)
    assert (code in verdict.codes) if code else verdict.codes == []
    assert bool(reasons) is (not ok)


def test_recoverability_blockers_are_all_listed_with_clear_reasons():
    invoice = make_invoice(currency="usd", status="SENT")
    no_email = make_client(email=None)
    invoice.client.email = None
    recoverable, reasons = recoverability(invoice, no_email, TODAY, {"clxinv1"})
    assert not recoverable
    assert "currency USD: Cleavr accepts EUR only" in reasons
    assert "already submitted to Cleavr" in reasons
    assert any("no email" in r for r in reasons)
    verdict = assess(invoice, no_email, TODAY, {"clxinv1"})
    assert set(verdict.codes) == {Blocker.NOT_EUR, Blocker.ALREADY_SUBMITTED, Blocker.NO_EMAIL}
    assert verdict.needs == ["email"]

    paid_in_full = make_invoice(status="PARTIALLY_PAID", amountPaid=Decimal("6000.00"))
    assert assess(paid_in_full, make_client(), TODAY).codes == [Blocker.ZERO_DUE]
    assert "nothing left to pay" in recoverability(paid_in_full, make_client(), TODAY)[1][0]


def test_assessment_days_overdue_and_commission_tier():
    verdict = assess(make_invoice(dueDate="2025-12-31"), make_client(), TODAY)  # 60 days
    assert verdict.recoverable and verdict.days_overdue == 60
    assert verdict.commission["rate_tier"] == "45-89 days"
    assert verdict.commission["commission_amount"] == Decimal("954.00")  # 6000.00 × 15.90 %
    partial = assess(make_invoice(status="PARTIALLY_PAID", amountPaid=Decimal("1000.00")), make_client(), TODAY)
    assert partial.amount_due == Decimal("5000.00") and partial.commission["commission_amount"] == Decimal("540.00")


def test_partially_paid_without_amount_paid_needs_the_human():
    summary = InvoiceSummary.model_validate(make_invoice(status="PARTIALLY_PAID").model_dump(exclude={"amount_paid"}))
    assert summary.amount_paid is None and summary.amount_due is None
    verdict = assess(summary, make_client(), TODAY)
    assert not verdict.recoverable and verdict.needs == ["amount_due"]
    mapped = to_receivable(summary, make_client(), user_id=USER, today=TODAY)
    assert "amount_due" in mapped.missing and mapped.receivable["invoice"]["amount"] is None
    given = to_receivable(summary, make_client(), user_id=USER, today=TODAY, amount_due=Decimal("1200.00"))
    assert given.missing == [] and given.to_model().invoice.amount == Decimal("1200.00")


# --- to_receivable -------------------------------------------------------------------------------------------
def test_full_mapping_of_a_french_invoice():
    mapped = to_receivable(make_invoice(), make_client(), user_id=USER, today=TODAY)
    payload, notes, missing = mapped
    assert missing == [] and notes == []
    model = mapped.to_model()
    assert isinstance(model, ReceivableCreate)
    inv = model.invoice
    assert inv.numbers == ["INV-0042"] and inv.issue_date == date(2026, 1, 1) and inv.due_date == date(2026, 1, 31)
    assert (inv.amount, inv.amount_before_tax, inv.tax_amount) == (Decimal("6000.00"), Decimal("5000.00"),
                                                                   Decimal("1000.00"))
    assert inv.currency == "EUR" and inv.service_description == "Web Development"
    assert inv.payment_terms == "Paiement à 30 jours"
    debtor = model.debtor
    assert debtor.company_name == "Boulangerie Martin SARL" and debtor.siret == "52398741000025"
    assert debtor.vat_number is None
    assert debtor.address.model_dump() == {"line1": "12 rue de la Paix", "line2": None, "city": "Paris",
                                           "postal_code": "75002", "country": "FR"}
    assert [(c.level, c.email, c.phone) for c in debtor.contacts] == [(0, "compta@martin.example", "+33612345678")]
    assert model.metadata == {"platform_invoice_id": "clxinv1", "source": "cleverinvo", "client_id": "clxclient1"}
    assert payload["user_id"] == USER


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12-34-56-78", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("04.93.00.00.01", "+33493000001"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 212 555 0199", "+12125550199"),
    ],
)
def test_phones_are_normalised_to_e164(phone, expected):
    mapped = to_receivable(make_invoice(), make_client(phone=phone), user_id=USER, today=TODAY)
    assert mapped.receivable["debtor"]["contacts"][0]["phone"] == expected and "phone" not in mapped.missing


def test_uk_national_phone_uses_the_address_country():
    client = make_client(address="10 Downing St, London SW1A 2AA, UK", phone="020 7946 0958", taxId="GB123456789")
    payload, notes, missing = to_receivable(make_invoice(), client, user_id=USER, today=TODAY)
    assert payload["debtor"]["contacts"][0]["phone"] == "+442079460958"
    assert payload["debtor"]["address"]["country"] == "GB"
    assert payload["metadata"]["tax_id"] == "GB123456789" and "siret" not in payload["debtor"]
    assert any("not a French SIRET/SIREN/VAT" in n for n in notes)


def test_invalid_or_missing_phone_is_dropped_and_reported_missing():
    payload, notes, missing = to_receivable(make_invoice(), make_client(phone="+1-555-0100"), user_id=USER,
                                            today=TODAY)
    assert "phone" not in payload["debtor"]["contacts"][0]
    assert missing == ["phone"] and any("'+1-555-0100' is not a valid number: dropped" in n for n in notes)
    _, _, missing = to_receivable(make_invoice(), make_client(phone=None), user_id=USER, today=TODAY)
    assert missing == ["phone"]
    supplied = to_receivable(make_invoice(), make_client(phone=None), user_id=USER, today=TODAY, phone="06 98 76 54 32")
    assert supplied.missing == [] and supplied.receivable["debtor"]["contacts"][0]["phone"] == "+33698765432"
    assert supplied.to_model(force_proceed=True).force_proceed is True


def test_missing_email_is_asked_for_and_then_used():
    client = make_client(email=None)
    invoice = make_invoice()
    invoice.client.email = None
    mapped = to_receivable(invoice, client, user_id=USER, today=TODAY)
    assert mapped.missing == ["email"] and mapped.receivable["debtor"]["contacts"][0] == {
        "level": 0, "phone": "+33612345678"}
    fixed = to_receivable(invoice, client, user_id=USER, today=TODAY, email="paie@martin.example")
    assert fixed.missing == [] and fixed.to_model().debtor.contacts[0].email == "paie@martin.example"
    nothing = to_receivable(invoice, make_client(email=None, phone=None), user_id=USER, today=TODAY)
    assert nothing.missing == ["email", "phone"] and nothing.receivable["debtor"]["contacts"] == []


@pytest.mark.parametrize(
    ("tax_id", "debtor_field", "metadata_field"),
    [
        ("523 987 410 00025", ("siret", "52398741000025"), None),
        ("FR 83 448 712 356", ("vat_number", "FR83448712356"), None),
        ("901 276 543", None, ("siren", "901276543")),
        ("12345678901234", None, ("tax_id", "12345678901234")),
        ("US-123456789", None, ("tax_id", "US-123456789")),
        (None, None, None),
    ],
)
def test_tax_id_goes_to_the_right_place(tax_id, debtor_field, metadata_field):
    payload, notes, _ = to_receivable(make_invoice(), make_client(taxId=tax_id), user_id=USER, today=TODAY)
    debtor, metadata = payload["debtor"], payload["metadata"]
    for field in ("siret", "vat_number"):
        if debtor_field and debtor_field[0] == field:
            assert debtor[field] == debtor_field[1]
        else:
            assert field not in debtor
    for field in ("siren", "tax_id"):
        if metadata_field and metadata_field[0] == field:
            assert metadata[field] == metadata_field[1]
        else:
            assert field not in metadata
    assert bool(notes) is bool(metadata_field)


def test_partially_paid_recovers_the_due_amount_with_a_prorated_split():
    invoice = make_invoice(status="PARTIALLY_PAID", subtotal=Decimal("4250.00"), taxTotal=Decimal("850.00"),
                           total=Decimal("5100.00"), amountPaid=Decimal("2000.00"))
    mapped = to_receivable(invoice, make_client(), user_id=USER, today=TODAY)
    inv = mapped.to_model().invoice
    assert inv.amount == Decimal("3100.00")
    assert inv.amount_before_tax == Decimal("2583.33") and inv.tax_amount == Decimal("516.67")
    assert inv.amount_before_tax + inv.tax_amount == inv.amount
    assert any("recovering the 3 100.00 EUR still due of 5 100.00 EUR (2 000.00 EUR already paid)" in n
               for n in mapped.notes)
    assert mapped.receivable["metadata"]["amount_paid"] == "2000.00"
    assert mapped.receivable["metadata"]["invoice_total"] == "5100.00"
    # The human's figure wins over amountPaid.
    override = to_receivable(invoice, make_client(), user_id=USER, today=TODAY, amount_due=Decimal("999.99"))
    o = override.to_model().invoice
    assert o.amount == Decimal("999.99") and o.amount_before_tax + o.tax_amount == Decimal("999.99")


def test_discounted_invoice_keeps_amount_equal_before_tax_plus_tax():
    invoice = make_invoice(subtotal=Decimal("5000.00"), discountTotal=Decimal("500.00"), taxTotal=Decimal("900.00"),
                           total=Decimal("5400.00"))
    inv = to_receivable(invoice, make_client(), user_id=USER, today=TODAY).to_model().invoice
    assert (inv.amount, inv.amount_before_tax, inv.tax_amount) == (Decimal("5400.00"), Decimal("4500.00"),
                                                                   Decimal("900.00"))


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"currency": "USD"}, "currency USD: Cleavr accepts EUR only"),
        ({"status": "PAID"}, "already paid"),
        ({"status": "DRAFT"}, "draft"),
        ({"status": "SENT", "dueDate": "2026-04-01"}, "not yet due"),
        ({"status": "PARTIALLY_PAID", "amountPaid": Decimal("6000.00")}, "nothing left to pay"),
    ],
)
def test_unrecoverable_invoices_are_refused(over, reason):
    with pytest.raises(NotRecoverableError) as exc:
        to_receivable(make_invoice(**over), make_client(), user_id=USER, today=TODAY)
    assert any(reason in r for r in exc.value.reasons)


def test_unparsable_address_is_kept_in_metadata():
    payload, notes, _ = to_receivable(make_invoice(), make_client(address="Chez Paul, quelque part"),
                                      user_id=USER, today=TODAY)
    assert "address" not in payload["debtor"] and payload["metadata"]["address"] == "Chez Paul, quelque part"
    assert any("could not be split" in n for n in notes)


def test_mapping_works_from_a_list_row_and_a_deleted_client():
    row = InvoiceSummary.model_validate(make_invoice().model_dump(exclude={"line_items", "terms"}))
    mapped = to_receivable(row, None, user_id=USER, today=TODAY)
    assert mapped.receivable["debtor"]["company_name"] == "Boulangerie Martin SARL"
    assert mapped.receivable["debtor"]["contacts"] == [{"level": 0, "email": "compta@martin.example"}]
    assert mapped.missing == ["phone"] and "service_description" not in mapped.receivable["invoice"]


def test_mapping_is_deterministic_and_wire_ready():
    a = to_receivable(make_invoice(), make_client(), user_id=USER, today=TODAY)
    b = to_receivable(make_invoice(), make_client(), user_id=USER, today=date(2026, 6, 1))
    assert wire.dumps(a.receivable) == wire.dumps(b.receivable)
    assert b'"amount":6000.00' in wire.dumps(a.to_model())


def test_idempotency_key_is_stable_and_scoped():
    key = idempotency_key_for_invoice("clxinv1", USER)
    assert key == idempotency_key_for_invoice("clxinv1", USER)
    assert key != idempotency_key_for_invoice("clxinv2", USER)
    assert key != idempotency_key_for_invoice("clxinv1", "usr_clv_other")
    assert key.startswith("cleverinvo-") and len(key) <= 64 and key.isascii()
