"""A creditor's recovery portfolio in figures: totals by status, money outstanding and recovered, fees, ageing
by commission tier, and what needs the user's attention. Pure: receivables in, Decimal figures out.

Definitions (what the Portfolio view and show_portfolio report):
- outstanding: what debtors still owe on active receivables (pending, in_process, disputed, evidence_requested);
  after a partial payment, only the remaining amount;
- recovered: money debtors paid: the full amount once payment_received / recovered (the paid part when a partial
  payment was accepted as complete), plus the paid part of partial payments on receivables still in recovery;
- fees_paid: the commission on receivables that are recovered (final); fees_expected: the commission still to
  come if recovery succeeds: on payment_received (being confirmed) and on everything outstanding;
- ageing: outstanding money by invoice age (days since issue_date), one bucket per commission tier, so each bar
  is also the rate Cleavr would charge on a new submission of that age.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field

from ..cleavr.contract import COMMISSION_TIERS, ReceivableStatus
from ..cleavr.models import Money, Receivable
from ..cleavr.validation import commission_tier, days_since, tier_label, to_money

S = ReceivableStatus
OUTSTANDING_STATUSES = (S.PENDING, S.IN_PROCESS, S.DISPUTED, S.EVIDENCE_REQUESTED)
PAID_STATUSES = (S.PAYMENT_RECEIVED, S.RECOVERED)
DISPUTE_STATUSES = (S.DISPUTED, S.EVIDENCE_REQUESTED)
ZERO = Decimal("0.00")


class StatusTotal(BaseModel):
    status: ReceivableStatus
    count: int
    amount: Money


class AgeingBucket(BaseModel):
    label: str = Field(description="The commission tier, e.g. '45-89 days'")
    days_from: int
    days_to: int | None = None
    rate_percentage: Decimal = Field(description="The commission rate of this tier")
    count: int
    amount: Money = Field(description="Outstanding money whose invoice is this old")
    share: Decimal = Field(description="amount / the largest bucket's amount (0..1): the bar's height")


class DisputeToAnswer(BaseModel):
    receivable_id: str
    debtor_name: str
    amount: Money
    status: ReceivableStatus
    evidence_requested: list[str] = Field(default_factory=list)


class PartialPaymentToDecide(BaseModel):
    receivable_id: str
    debtor_name: str
    paid_amount: Money
    remaining_amount: Money


class PortfolioFigures(BaseModel):
    as_of: date
    receivable_count: int
    by_status: list[StatusTotal]
    outstanding: Money
    recovered: Money
    fees_paid: Money
    fees_expected: Money
    ageing: list[AgeingBucket]
    disputes_awaiting_evidence: list[DisputeToAnswer]
    partial_payments_awaiting_decision: list[PartialPaymentToDecide]


def owed(r: Receivable) -> Decimal:
    """What the debtor still owes on an active receivable (the remainder after a partial payment)."""
    if r.status not in OUTSTANDING_STATUSES:
        return ZERO
    return r.partial_payment.remaining_amount if r.partial_payment else r.amount


def paid(r: Receivable) -> Decimal:
    """What the debtor has paid so far."""
    if r.status in PAID_STATUSES:
        return r.partial_payment.paid_amount if _accepted_partial(r) else r.amount
    if r.status in OUTSTANDING_STATUSES and r.partial_payment:
        return r.partial_payment.paid_amount
    return ZERO


def _accepted_partial(r: Receivable) -> bool:
    pp = r.partial_payment
    return pp is not None and getattr(pp, "status", None) == "mark_complete"


def awaits_partial_decision(r: Receivable) -> bool:
    """A partial payment the platform has not decided on. The API's `status` field says so when present; without
    it, a partial payment on a receivable still in process is taken as undecided (the safe reading)."""
    pp = r.partial_payment
    if pp is None or r.status is not S.IN_PROCESS:
        return False
    status = getattr(pp, "status", None)
    return status is None or status == "awaiting_decision"


def _rate(r: Receivable, today: date, tiers) -> Decimal:
    """The rate fixed at submission; for data without one, the tier of the invoice's age today."""
    if r.commission is not None:
        return r.commission.rate
    return commission_tier(days_since(r.invoice.issue_date, today), tiers)[2]


def _fee(amount: Decimal, rate: Decimal) -> Decimal:
    return to_money(amount * rate / 100)


def portfolio_figures(receivables: Iterable[Receivable], today: date, tiers=COMMISSION_TIERS) -> PortfolioFigures:
    recs = list(receivables)
    counts = {s: 0 for s in S}
    amounts = {s: ZERO for s in S}
    outstanding = recovered = fees_paid = fees_expected = ZERO
    bucket_amounts = [ZERO for _ in tiers]
    bucket_counts = [0 for _ in tiers]
    disputes: list[DisputeToAnswer] = []
    partials: list[PartialPaymentToDecide] = []
    for r in recs:
        counts[r.status] += 1
        amounts[r.status] += r.amount
        rate = _rate(r, today, tiers)
        still_owed = owed(r)
        recovered += paid(r)
        outstanding += still_owed
        if r.status is S.RECOVERED:
            fees_paid += _fee(paid(r), rate)
        elif r.status is S.PAYMENT_RECEIVED:
            fees_expected += _fee(paid(r), rate)
        elif still_owed:
            fees_expected += _fee(still_owed, rate)
            tier = commission_tier(days_since(r.invoice.issue_date, today), tiers)
            index = list(tiers).index(tier)
            bucket_amounts[index] += still_owed
            bucket_counts[index] += 1
        if r.status in DISPUTE_STATUSES:
            disputes.append(DisputeToAnswer(
                receivable_id=r.id, debtor_name=r.debtor.company_name, amount=r.amount, status=r.status,
                evidence_requested=list(r.dispute.evidence_requested) if r.dispute else []))
        if awaits_partial_decision(r):
            pp = r.partial_payment
            partials.append(PartialPaymentToDecide(receivable_id=r.id, debtor_name=r.debtor.company_name,
                                                   paid_amount=pp.paid_amount, remaining_amount=pp.remaining_amount))
    largest = max(bucket_amounts, default=ZERO)
    ageing = [
        AgeingBucket(label=tier_label(lo, hi), days_from=lo, days_to=hi, rate_percentage=rate,
                     count=bucket_counts[i], amount=bucket_amounts[i],
                     share=(bucket_amounts[i] / largest).quantize(Decimal("0.0001")) if largest else Decimal(0))
        for i, (lo, hi, rate) in enumerate(tiers)
    ]
    return PortfolioFigures(
        as_of=today, receivable_count=len(recs),
        by_status=[StatusTotal(status=s, count=counts[s], amount=amounts[s]) for s in S if counts[s]],
        outstanding=outstanding, recovered=recovered, fees_paid=fees_paid, fees_expected=fees_expected,
        ageing=ageing, disputes_awaiting_evidence=disputes, partial_payments_awaiting_decision=partials,
    )
