"""The invoice book judged for recovery (domain/invoice_book): pure inputs (invoices, clients, the receivables
already on Cleavr, the rate table, today) → which invoices are listed, recoverable or not and why, at what fee."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.contract import COMMISSION_TIERS
from cleavr_mcp.cleavr.models import CommissionRates, Receivable
from cleavr_mcp.cleverinvo.mapping import Blocker, assess, to_receivable
from cleavr_mcp.cleverinvo.models import Client, Invoice
from cleavr_mcp.domain.invoice_book import (
    INVALID_DATA,
    PREVIEW_USER,
    Book,
    Plan,
    RateTable,
    amount_needs_confirming,
    cleavr_refusal,
    contact_problem,
    count_with,
    debt_age,
    debtor_country,
    fee_quote,
    hard_reasons,
    is_past_due,
    judge_invoice,
    money_sum,
    parse_amount,
    submitted_receivables,
)

TODAY = date(2026, 3, 1)
DEFAULT_RATES = RateTable(COMMISSION_TIERS)


def make_client(n: int = 1, **over) -> Client:
    data = {"id": f"clxclient{n}", "name": f"Client {n} SARL", "email": f"compta{n}@client.example",
            "address": "12 rue de la Paix, 75002 Paris", "taxId": None, "phone": "06 12 34 56 78", "isActive": True}
    data.update(over)
    return Client.model_validate(data)


def make_invoice(n: int = 1, *, due: date = date(2026, 1, 31), issued: date = date(2026, 1, 1), **over) -> Invoice:
    data = wire.loads(
        f'{{"id": "clxinv{n}", "clientId": "clxclient{n}", "invoiceNumber": "INV-{n:04d}", "currency": "EUR",'
        f' "issueDate": "{issued.isoformat()}", "dueDate": "{due.isoformat()}", "subtotal": 1000.00,'
        ' "taxTotal": 200.00, "discountTotal": 0, "total": 1200.00, "status": "OVERDUE", "amountPaid": 0.00,'
        f' "client": {{"name": "Client {n} SARL", "email": "compta{n}@client.example"}},'
        ' "lineItems": [{"description": "Audit", "quantity": 1, "unitPrice": 1000.00, "amount": 1000.00,'
        ' "taxRate": 20}]}'
    )
    data.update(over)
    return Invoice.model_validate(data)


def receivable(invoice_id: str, status: str = "in_process", *, source: str = "cleverinvo", n: int = 1) -> Receivable:
    return Receivable.model_validate({
        "id": f"rec_{n}", "user_id": "usr_clv_1", "status": status, "amount": "1200.00",
        "invoice": {"numbers": ["INV-0001"], "issue_date": "2026-01-01", "due_date": "2026-01-31",
                    "amount": "1200.00"},
        "debtor": {"company_name": "Client 1 SARL"}, "metadata": {"source": source, "platform_invoice_id": invoice_id},
        "created_at": "2026-02-01T10:00:00Z", "updated_at": "2026-02-01T10:00:00Z",
    })


def book(*pairs: tuple[Invoice, Client | None], submitted: dict[str, Receivable] | None = None,
         rates: RateTable = DEFAULT_RATES) -> Book:
    return Book(TODAY, [i for i, _ in pairs], {c.id: c for _, c in pairs if c is not None}, submitted or {}, rates)


def judged(*pairs, **kwargs):
    ok, blocked = book(*pairs, **kwargs).judge()
    return {e.invoice.id: e for e in ok}, {e.invoice.id: e for e in blocked}


# --- what is listed at all ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "due", "listed"),
    [
        ("SENT", TODAY + timedelta(days=10), False),  # not yet due
        ("SENT", TODAY, False),  # due today is not past due
        ("SENT", TODAY - timedelta(days=1), True),  # one day late
        ("PARTIALLY_PAID", TODAY, False),
        ("OVERDUE", TODAY + timedelta(days=3), True),  # CleverInvo says overdue: trusted, 0 days late
        ("PAID", TODAY - timedelta(days=90), False),
        ("DRAFT", TODAY - timedelta(days=90), False),
    ],
)
def test_only_past_due_unpaid_sent_invoices_are_listed(status, due, listed):
    invoice = make_invoice(status=status, due=due, issued=due - timedelta(days=30))
    verdict = assess(invoice, make_client(), TODAY)
    assert is_past_due(verdict) is listed
    ok, blocked = book((invoice, make_client())).judge()
    assert len(ok) + len(blocked) == (1 if listed else 0)


def test_min_days_overdue_filters_and_oldest_come_first():
    a, b, c, d = (make_invoice(n, due=TODAY - timedelta(days=late), issued=TODAY - timedelta(days=late + 30))
                  for n, late in ((1, 10), (2, 60), (3, 60), (4, 45)))
    pairs = [(a, make_client(1)), (b, make_client(2)), (c, make_client(3)), (d, make_client(4))]
    ok, _ = book(*pairs).judge()
    assert [e.invoice.invoice_number for e in ok] == ["INV-0002", "INV-0003", "INV-0004", "INV-0001"]
    ok, _ = book(*pairs).judge(min_days_overdue=45)
    assert [e.verdict.days_overdue for e in ok] == [60, 60, 45]  # exactly 45 days late is included


# --- recoverable: fee, phone ----------------------------------------------------------------------------------------
def test_a_recoverable_invoice_is_quoted_from_its_invoice_date_at_the_live_rates():
    invoice = make_invoice(issued=TODAY - timedelta(days=100), due=TODAY - timedelta(days=70))
    ok, blocked = judged((invoice, make_client()))
    entry = ok["clxinv1"]
    assert not blocked and entry.age_days == 100 and entry.verdict.days_overdue == 70
    # 100 days since the invoice date is the 90-179 tier (20.60 %), not the 45-89 one its lateness would give.
    assert entry.fee == {"rate_percentage": Decimal("20.60"), "rate_tier": "90-179 days",
                         "commission_amount": Decimal("247.20"), "net_recovery": Decimal("952.80"),
                         "custom_rate": False}
    assert entry.has_phone and entry.client_name == "Client 1 SARL" and not entry.fixable


def test_a_partner_flat_rate_replaces_the_tiers():
    rates = CommissionRates.model_validate({"default_rates": [{"days_from": 0, "days_to": None, "rate": "10.80"}],
                                            "platform_custom_rate": {"enabled": True, "flat_rate": "12.00"}})
    table = RateTable.of(rates)
    assert table.rate(400) == (Decimal("12.00"), "0+ days")
    ok, _ = judged((make_invoice(), make_client()), rates=table)
    assert ok["clxinv1"].fee["commission_amount"] == Decimal("144.00")
    disabled = CommissionRates.model_validate({
        "default_rates": [{"days_from": d, "days_to": t, "rate": str(r)} for d, t, r in COMMISSION_TIERS],
        "platform_custom_rate": {"enabled": False, "flat_rate": "12.00"}})
    assert RateTable.of(disabled) == DEFAULT_RATES
    assert DEFAULT_RATES.rate(45) == (Decimal("15.90"), "45-89 days")


def test_without_a_phone_it_is_still_recoverable_but_flagged():
    ok, _ = judged((make_invoice(), make_client(phone=None)))
    assert not ok["clxinv1"].has_phone


def test_a_partly_paid_invoice_is_quoted_on_what_is_still_due():
    invoice = make_invoice(status="PARTIALLY_PAID", amountPaid="500.00", amountDue="700.00")
    ok, _ = judged((invoice, make_client()))
    entry = ok["clxinv1"]
    assert entry.verdict.amount_due == Decimal("700.00") and entry.verdict.total == Decimal("1200.00")
    assert entry.fee["commission_amount"] == Decimal("111.30")  # 15.90 % of 700 (59 days since the invoice date)
    assert amount_needs_confirming(invoice, None)  # partially paid: the user sees and may edit the amount


def test_a_partly_paid_invoice_with_no_paid_amount_needs_the_user():
    invoice = make_invoice(status="PARTIALLY_PAID", amountPaid=None, amountDue=None)
    _, blocked = judged((invoice, make_client()))
    entry = blocked["clxinv1"]
    assert entry.verdict.codes == [Blocker.AMOUNT_UNKNOWN] and entry.fixable and entry.fee is None
    assert hard_reasons(entry.verdict) == []
    assert amount_needs_confirming(invoice, None)


def test_the_amount_is_confirmed_only_when_it_is_not_simply_the_unpaid_total():
    invoice = make_invoice()
    assert not amount_needs_confirming(invoice, None)
    assert not amount_needs_confirming(invoice, Decimal("1200.00"))
    assert amount_needs_confirming(invoice, Decimal("800.00"))


# --- not recoverable, and why ---------------------------------------------------------------------------------------
def test_an_invoice_in_another_currency_is_blocked_without_a_fee():
    invoice = make_invoice(currency="usd")
    _, blocked = judged((invoice, make_client()))
    entry = blocked["clxinv1"]
    assert entry.verdict.codes == [Blocker.NOT_EUR] and not entry.fixable
    assert entry.reasons() == ["currency USD: Cleavr accepts EUR only"]
    assert fee_quote(entry.verdict, DEFAULT_RATES, entry.age_days) is None


def test_no_email_is_fixable_unless_something_else_blocks_too():
    no_email = make_invoice(1, client={"name": "Client 1 SARL", "email": None})
    also_usd = make_invoice(2, currency="GBP", client={"name": "Client 2 SARL", "email": None})
    _, blocked = judged((no_email, make_client(1, email=None)), (also_usd, make_client(2, email=None)))
    assert blocked["clxinv1"].fixable and blocked["clxinv1"].verdict.codes == [Blocker.NO_EMAIL]
    assert not blocked["clxinv2"].fixable
    assert hard_reasons(blocked["clxinv2"].verdict) == ["currency GBP: Cleavr accepts EUR only"]


def test_nothing_left_to_pay_is_blocked():
    _, blocked = judged((make_invoice(amountPaid="1200.00", amountDue="0.00"), make_client()))
    assert blocked["clxinv1"].verdict.codes == [Blocker.ZERO_DUE] and not blocked["clxinv1"].fixable


def test_data_cleavr_would_refuse_is_blocked_as_invalid_data():
    client = make_client(email="compta@@client.example")
    invoice = make_invoice(client={"name": "Client 1 SARL", "email": "compta@@client.example"})
    assert cleavr_refusal(to_receivable(invoice, client, user_id=PREVIEW_USER, today=TODAY)) is not None
    ok, blocked = judged((invoice, client))
    entry = blocked["clxinv1"]
    assert not ok and entry.verdict.codes == [INVALID_DATA] and not entry.verdict.recoverable
    assert entry.reasons()[0].startswith("CleverInvo data Cleavr would refuse (")
    assert entry.reasons()[0].endswith("): fix it in CleverInvo")


def test_a_missing_email_alone_is_not_a_cleavr_refusal():
    """The email is asked for separately: the rest of the receivable is checked with a stand-in."""
    invoice = make_invoice(client={"name": "Client 1 SARL", "email": None})
    mapped = to_receivable(invoice, make_client(email=None), user_id=PREVIEW_USER, today=TODAY)
    assert "email" in mapped.missing and cleavr_refusal(mapped) is None


# --- already on Cleavr ---------------------------------------------------------------------------------------------
def test_an_invoice_already_submitted_names_its_receivable_even_when_disputed():
    submitted = {"clxinv1": receivable("clxinv1", "disputed", n=7)}
    ok, blocked = judged((make_invoice(1), make_client(1)), (make_invoice(2), make_client(2)), submitted=submitted)
    assert list(ok) == ["clxinv2"]
    entry = blocked["clxinv1"]
    assert entry.receivable is not None and entry.verdict.codes == [Blocker.ALREADY_SUBMITTED]
    assert entry.reasons() == ["already submitted to Cleavr as rec_7 (disputed)"]
    assert not entry.fixable


def test_the_plan_sends_the_recoverable_and_keeps_apart_those_already_submitted():
    submitted = {"clxinv1": receivable("clxinv1", n=1)}
    b = book((make_invoice(1), make_client(1)), (make_invoice(2), make_client(2, phone=None)),
             (make_invoice(3, currency="USD"), make_client(3)), submitted=submitted)
    plan = Plan.of(b, 0, *b.judge())
    assert [e.invoice.id for e in plan.to_send] == ["clxinv2"]
    assert [e.invoice.id for e in plan.already] == ["clxinv1"]
    assert [e.invoice.id for e in plan.skipped] == ["clxinv3"]
    assert [e.invoice.id for e in plan.no_phone] == ["clxinv2"]
    assert plan.fingerprint() == [["clxinv2", "1200.00", False], ["clxinv1", "already_submitted"],
                                  ["clxinv3", "not_eur"]]
    assert count_with(plan.already + plan.skipped, Blocker.NOT_EUR) == 1


def test_a_changed_amount_changes_the_fingerprint():
    first = book((make_invoice(), make_client()))
    second = book((make_invoice(amountPaid="200.00", amountDue="1000.00", status="PARTIALLY_PAID"), make_client()))
    assert Plan.of(first, 0, *first.judge()).fingerprint() != Plan.of(second, 0, *second.judge()).fingerprint()


def test_one_full_invoice_is_judged_against_what_was_submitted():
    entry = judge_invoice(make_invoice(), {"clxinv1": receivable("clxinv1", "cancelled")}, TODAY)
    assert entry.verdict.codes == [Blocker.ALREADY_SUBMITTED] and entry.receivable.id == "rec_1"
    assert entry.reasons() == ["already submitted to Cleavr as rec_1 (cancelled)"]
    fresh = judge_invoice(make_invoice(), {}, TODAY)
    assert fresh.verdict.recoverable and fresh.receivable is None
    assert fee_quote(fresh.verdict, DEFAULT_RATES, fresh.age_days)["commission_amount"] == Decimal("190.80")


@pytest.mark.anyio
async def test_submitted_receivables_keeps_cleverinvo_ones_first_per_invoice():
    class Receivables:
        def __init__(self, *recs):
            self.recs, self.queries = recs, []

        async def iter_receivables(self, query):
            self.queries.append(query)
            for rec in self.recs:
                yield rec

    cleavr = Receivables(receivable("clxinv1", "cancelled", n=1), receivable("clxinv1", n=2),
                         receivable("clxinv2", source="csv_import", n=3))
    found = await submitted_receivables(cleavr, "usr_clv_1")  # type: ignore[arg-type]
    assert {k: v.id for k, v in found.items()} == {"clxinv1": "rec_1"}
    assert cleavr.queries[0].user_id == "usr_clv_1"


# --- small rules ---------------------------------------------------------------------------------------------------
def test_debt_age_counts_from_the_invoice_date_and_never_goes_negative():
    assert debt_age(make_invoice(issued=TODAY - timedelta(days=45)), TODAY) == 45
    assert debt_age(make_invoice(issued=TODAY + timedelta(days=5), due=TODAY + timedelta(days=35)), TODAY) == 0


@pytest.mark.parametrize(
    ("text", "amount"),
    [("3000", "3000.00"), ("3000.5", "3000.50"), ("3000,50", "3000.50"), ("3 000,00 €", "3000.00"),
     ("3,000.50", "3000.50"), ("3.000,50", "3000.50"), ("1\u202f234,56 EUR", "1234.56"), ("3000.555", None),
     ("3,00,000", None), ("-12", None), ("abc", None), ("", None)],
)
def test_amounts_as_people_type_them(text, amount):
    assert parse_amount(text) == (Decimal(amount) if amount else None)


def test_contact_arguments_are_checked_in_the_debtors_country():
    french, british = make_client(), make_client(address="10 Downing St, London SW1A 2AA, UK")
    assert debtor_country(french) == "FR" and debtor_country(british) == "GB" and debtor_country(None) == "FR"
    assert contact_problem("a@b.example", "06 12 34 56 78", french) is None
    assert contact_problem("not-an-email", None, french)[0] == "debtor_email"
    assert contact_problem(None, "12", french)[0] == "debtor_phone"
    assert contact_problem(None, "020 7946 0958", british) is None


def test_money_sum_is_rounded_to_the_cent():
    assert money_sum([Decimal("0.105"), Decimal("0.10")]) == Decimal("0.21")
    assert money_sum([]) == Decimal("0.00")


def test_a_due_date_before_the_invoice_date_is_data_cleavr_would_refuse():
    _, blocked = judged((make_invoice(issued=date(2026, 1, 1), due=date(2025, 12, 1)), make_client()))
    assert blocked["clxinv1"].verdict.codes == [INVALID_DATA]
