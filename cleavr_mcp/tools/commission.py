"""Commission quotes: the success fee Cleavr keeps on what it recovers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..cleavr.models import CommissionQuoteRequest, PositiveMoney
from ..toolkit.errors import error_result, from_exception
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import state_of
from .shapes import euros


class RateRowView(BaseModel):
    days_from: int
    days_to: int | None = None
    rate_percentage: Decimal


class Quote(BaseModel):
    amount: str = Field(description="The amount quoted, EUR")
    rate_percentage: Decimal
    rate_tier: str
    commission_amount: str = Field(description="The fee Cleavr keeps if it recovers the full amount, EUR")
    net_recovery: str = Field(description="What the creditor receives, EUR")
    custom_rate: bool
    summary: str = Field(examples=["15.90 % = €795.00, you receive €4,205.00"])
    rate_table: list[RateRowView] = Field(default_factory=list, description="Only when include_rate_table is true")


@tool(title="Quote the success fee", toolset=Toolset.COMMISSION, kind=Kind.READ, idempotent=True, open_world=False)
async def quote_commission(
    amount: PositiveMoney,
    ctx: Context,
    invoice_date: date | None = None,
    days_overdue: int | None = Field(None, ge=0),
    include_rate_table: bool = False,
) -> Quote:
    """Quote Cleavr's success fee for an amount: rate, age tier, fee and what the creditor receives. Show it
    before submit_receivable. Give invoice_date or days_overdue (exactly one); the rate grows with the debt's age
    (10.80 % under 45 days to 29.50 % from 547). include_rate_table gives the whole table."""
    if (invoice_date is None) == (days_overdue is None):
        return error_result(code="VALIDATION_ERROR", message="Give exactly one of invoice_date or days_overdue.",
                            field="invoice_date", tool="quote_commission")
    state = state_of(ctx)
    try:
        quote = await state.client.calculate_commission(
            CommissionQuoteRequest(amount=amount, invoice_date=invoice_date, days_overdue=days_overdue))
        table = (await state.client.get_commission_rates()).default_rates if include_rate_table else []
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="quote_commission")
    return Quote(
        amount=f"{amount:.2f}",
        rate_percentage=quote.rate_percentage,
        rate_tier=quote.rate_tier,
        commission_amount=f"{quote.commission_amount:.2f}",
        net_recovery=f"{quote.net_recovery:.2f}",
        custom_rate=quote.custom_rate,
        summary=f"{quote.rate_percentage:.2f} % = {euros(quote.commission_amount)}, "
        f"you receive {euros(quote.net_recovery)}",
        rate_table=[RateRowView(days_from=r.days_from, days_to=r.days_to, rate_percentage=r.rate) for r in table],
    )
