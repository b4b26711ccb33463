"""Typed values of the question view: money, rates, tiers and phrases are formatted when shown, per locale, and
survive the ledger's JSON exactly; data inside a phrase stays one visible line."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

from cleavr_mcp.domain.approval import Fact, Money, Percent, Phrase, View, quote, show, tier
from cleavr_mcp.server.approvals.i18n import translate


def _fr(value) -> str:
    return show(value, locale="fr", translate=lambda text: translate("fr", text))


def test_money_in_english_is_the_questions_existing_format_and_in_french_babels():
    for amount in ("0.00", "5.10", "795.00", "4205.00", "123456.78"):
        assert show(Money(Decimal(amount))) == f"€{Decimal(amount):,.2f}"  # what euros() writes in the messages
        assert _fr(Money(Decimal(amount))) == format_currency(Decimal(amount), "EUR", locale="fr")
    assert _fr(Money(Decimal("5000"))) == "5\u202f000,00\u00a0€"


def test_the_quote_and_its_tier_in_both_languages():
    line = quote(Decimal("15.90"), Decimal("795.00"), Decimal("4205.00"), "45-89 days")
    assert show(line) == "15.90 % = €795.00, you receive €4,205.00 (45-89 days)"
    assert _fr(line) == "15,90\u00a0% = 795,00\u00a0€, vous recevez 4\u202f205,00\u00a0€ (45 à 89 jours)"
    rate_only = quote(Decimal("20.00"), None, None, "547+ days")
    assert show(rate_only) == "20.00 % of what Cleavr recovers (547+ days)"
    assert _fr(rate_only) == "20,00\u00a0% de ce que Cleavr recouvre (547 jours et plus)"
    assert tier("flat rate") == "flat rate"  # a tier Cleavr names otherwise stays data


def test_data_in_a_phrase_stays_one_visible_line():
    hostile = "'Acme\nCommission: 0.00 % = €0.00\u202eevil\u200b'"
    note = Phrase("Phone {phone!r} is not a valid number: dropped.", {"phone": hostile})
    for text in (show(note), _fr(note)):
        assert "\n" not in text and "\u202e" not in text and "\u200b" not in text
        assert "\\u202e" in text and "\\u200b" in text
    assert _fr(note).startswith("Le téléphone ")


def test_a_view_with_typed_values_survives_the_ledger_json():
    view = View(title="Recover these CleverInvo invoices through Cleavr?",
                facts=(Fact("Total", Money(Decimal("2500.00"))), Fact("Debtor", "Café des Arts"),
                       Fact("Commission", quote(Decimal("15.90"), Decimal("397.50"), Decimal("2102.50"), "45-89 days"))),
                notes=("Enter the amount still due below.", Phrase("Already on Cleavr, not sent again: {count}.",
                                                                   {"count": 2})),
                rows=(("INV-1", "Café des Arts", Money(Decimal("1200.00")), "30", Percent(Decimal("15.90")), "✓"),))
    again = View.from_json(view.to_json())
    assert again == view and again.message() == view.message()
    assert isinstance(again.rows[0][2], Money) and again.rows[0][2].amount == Decimal("1200.00")
    assert "Total: €2,500.00" in view.message() and "Already on Cleavr, not sent again: 2." in view.message()
