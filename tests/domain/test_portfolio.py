"""Portfolio figures: Decimal money to the cent, each receivable counted once in the right place."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from cleavr_mcp.cleavr.contract import COMMISSION_TIERS
from cleavr_mcp.cleavr.models import Receivable
from cleavr_mcp.domain.portfolio import portfolio_figures

TODAY = date(2026, 12, 1)


def rec(n: int, status: str, amount: str, *, age: int = 60, rate: str | None = "15.90", partial=None,
        dispute=None) -> Receivable:
    issue = TODAY - timedelta(days=age)
    return Receivable.model_validate({
        "id": f"rec_{n}", "user_id": "usr_clv_1", "status": status, "amount": amount,
        "invoice": {"numbers": [f"INV-{n}"], "issue_date": issue.isoformat(),
                    "due_date": (issue + timedelta(days=30)).isoformat(), "amount": amount},
        "debtor": {"company_name": f"Debtor {n}"},
        "commission": {"rate": rate, "amount": "0.00"} if rate else None,
        "partial_payment": partial, "dispute": dispute,
        "created_at": "2026-11-01T10:00:00Z", "updated_at": "2026-11-01T10:00:00Z",
    })


def test_an_empty_portfolio_is_all_zero_with_one_empty_bucket_per_tier():
    figures = portfolio_figures([], TODAY)
    assert figures.receivable_count == 0 and figures.by_status == []
    assert figures.outstanding == figures.recovered == figures.fees_paid == figures.fees_expected == Decimal("0")
    assert [(b.days_from, b.days_to, b.rate_percentage) for b in figures.ageing] == list(COMMISSION_TIERS)
    assert all(b.amount == 0 and b.share == 0 for b in figures.ageing)


def test_money_by_status_outstanding_recovered_and_fees():
    recs = [
        rec(1, "in_process", "1000.00", age=30, rate="10.80"),
        rec(2, "disputed", "2000.10", age=100, rate="20.60",
            dispute={"reason": "quality_issue", "evidence_requested": ["signed_contract"]}),
        rec(3, "recovered", "333.33", rate="15.90"),
        rec(4, "payment_received", "100.00", rate="25.70"),
        rec(5, "cancelled", "999.99"),
        rec(6, "in_process", "500.00", age=400, rate="27.50",
            partial={"original_amount": "500.00", "paid_amount": "200.00", "remaining_amount": "300.00",
                     "status": "awaiting_decision"}),
    ]
    f = portfolio_figures(recs, TODAY)
    assert {t.status.value: (t.count, t.amount) for t in f.by_status} == {
        "in_process": (2, Decimal("1500.00")), "disputed": (1, Decimal("2000.10")),
        "recovered": (1, Decimal("333.33")), "payment_received": (1, Decimal("100.00")),
        "cancelled": (1, Decimal("999.99"))}
    assert f.outstanding == Decimal("3300.10")  # 1000 + 2000.10 + the 300 left after a partial payment
    assert f.recovered == Decimal("633.33")  # 333.33 + 100 + the 200 paid in part
    assert f.fees_paid == Decimal("53.00")  # 15.90 % of 333.33 = 52.99947, half-up
    # 10.80 % of 1000 + 20.60 % of 2000.10 (412.0206) + 27.50 % of 300 + 25.70 % of 100 on payment_received
    assert f.fees_expected == Decimal("108.00") + Decimal("412.02") + Decimal("82.50") + Decimal("25.70")
    assert all(isinstance(v, Decimal) for v in (f.outstanding, f.recovered, f.fees_paid, f.fees_expected))


def test_ageing_buckets_are_the_commission_tiers_and_bars_scale_to_the_largest():
    recs = [rec(1, "in_process", "1000.00", age=10), rec(2, "pending", "500.00", age=44),
            rec(3, "in_process", "3000.00", age=45), rec(4, "evidence_requested", "750.00", age=600),
            rec(5, "recovered", "9999.00", age=200)]  # recovered money is not outstanding: not in the chart
    f = portfolio_figures(recs, TODAY)
    by_label = {b.label: b for b in f.ageing}
    assert list(by_label) == ["0-44 days", "45-89 days", "90-179 days", "180-364 days", "365-546 days", "547+ days"]
    assert (by_label["0-44 days"].count, by_label["0-44 days"].amount) == (2, Decimal("1500.00"))
    assert by_label["45-89 days"].share == Decimal("1")
    assert by_label["0-44 days"].share == Decimal("0.5")
    assert by_label["547+ days"].share == Decimal("0.25")
    assert by_label["180-364 days"].amount == 0
    assert sum(b.amount for b in f.ageing) == f.outstanding


def test_needs_you_lists_disputes_and_undecided_partial_payments_only():
    decided = {"original_amount": "500.00", "paid_amount": "200.00", "remaining_amount": "300.00",
               "status": "continue_recovery"}
    undecided_no_status = {"original_amount": "800.00", "paid_amount": "100.00", "remaining_amount": "700.00"}
    recs = [rec(1, "disputed", "10.00", dispute={"reason": "x", "evidence_requested": ["invoice_copy"]}),
            rec(2, "evidence_requested", "20.00"), rec(3, "in_process", "500.00", partial=decided),
            rec(4, "in_process", "800.00", partial=undecided_no_status), rec(5, "pending", "1.00")]
    f = portfolio_figures(recs, TODAY)
    assert [(d.receivable_id, d.evidence_requested) for d in f.disputes_awaiting_evidence] == [
        ("rec_1", ["invoice_copy"]), ("rec_2", [])]
    assert [(p.receivable_id, p.remaining_amount) for p in f.partial_payments_awaiting_decision] == [
        ("rec_4", Decimal("700.00"))]


def test_a_receivable_without_a_commission_uses_the_tier_of_its_age_today():
    f = portfolio_figures([rec(1, "in_process", "100.00", age=200, rate=None)], TODAY)
    assert f.fees_expected == Decimal("25.70")


def test_partial_payment_accepted_as_complete_counts_only_what_was_paid():
    accepted = {"original_amount": "500.00", "paid_amount": "200.00", "remaining_amount": "300.00",
                "status": "mark_complete"}
    f = portfolio_figures([rec(1, "recovered", "500.00", rate="10.00", partial=accepted)], TODAY)
    assert (f.recovered, f.fees_paid, f.outstanding) == (Decimal("200.00"), Decimal("20.00"), Decimal("0"))
