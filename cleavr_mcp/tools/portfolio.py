"""The recovery portfolio at a glance (show_portfolio) and a receivable's lifecycle (receivable_timeline, for the
Receivable view). Both are reads; the figures come from domain.portfolio."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..cleavr.contract import OnboardingStatus
from ..cleavr.models import ListReceivablesQuery, ReceivableId, UserId
from ..domain import scope
from ..domain.portfolio import PortfolioFigures, portfolio_figures
from ..domain.tenancy import current_principal
from ..toolkit.errors import from_exception
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import state_of
from ..views import PORTFOLIO_URI, RECEIVABLE_URI
from .events import EventRow, event_row, hub_of
from .shapes import euros

MAX_RECEIVABLES = 2000  # a portfolio bigger than this is summed on its newest part, and says so
MAX_CREDITORS = 20  # onboarding status is one API call per creditor


class CreditorToOnboard(BaseModel):
    user_id: str
    status: OnboardingStatus
    onboarding_url: str | None = Field(None, description="Share it with the creditor to finish onboarding")


class PortfolioView(PortfolioFigures):
    """The portfolio in figures, plus what needs the user (the `needs you` list)."""

    creditors_not_onboarded: list[CreditorToOnboard] = Field(default_factory=list)
    unhandled_events_total: int = 0
    unhandled_events: list[EventRow] = Field(default_factory=list, description="The newest unhandled (up to 10)")
    truncated: bool = Field(False, description="True: more receivables exist than were summed")
    summary: str


async def _known_creditors(ctx: Context, receivable_users: set[str]) -> list[str]:
    """Creditors this server knows of that the caller may act for: created here (audit log), the sandbox's demo
    creditor, owners of receivables."""
    state = state_of(ctx)
    principal = current_principal()
    created = [row.result_id for row in await state.store.audit_rows() if row.tool == "create_user" and row.result_id
               and row.outcome == "done"]
    own = sorted(principal.user_ids or ())  # a scoped principal's own creditors, with or without receivables
    ordered = dict.fromkeys([*own, *created, *([state.demo_user_id] if state.demo_user_id else []),
                             *sorted(receivable_users)])
    return [uid for uid in ordered if principal.may_act_for(uid)][:MAX_CREDITORS]


@tool(title="Show the recovery portfolio", toolset=Toolset.RECEIVABLES, kind=Kind.READ, idempotent=True,
      open_world=False, view=PORTFOLIO_URI)
async def show_portfolio(ctx: Context, user_id: UserId | None = None) -> PortfolioView:
    """How recoveries are doing, in figures: receivables and amounts by status; money outstanding and recovered;
    fees paid and expected; outstanding money by invoice age (one bucket per commission tier); and what needs the
    user: disputes awaiting evidence, partial payments awaiting a decision, creditors not yet onboarded, unhandled
    events. Optionally for one creditor. Hosts with MCP Apps show it as a dashboard."""
    state = state_of(ctx)
    try:
        # The caller's creditors' receivables only (domain.scope); one more than summed tells of truncation.
        receivables = [r async for r in scope.receivables(state.client, ListReceivablesQuery(user_id=user_id),
                                                          limit=MAX_RECEIVABLES + 1)]
        truncated = len(receivables) > MAX_RECEIVABLES
        receivables = receivables[:MAX_RECEIVABLES]
        creditors = [user_id] if user_id else await _known_creditors(ctx, {r.user_id for r in receivables})
        to_onboard = []
        for uid in creditors:
            status = await state.client.get_onboarding_status(uid)
            if not status.capabilities.send_receivables:
                to_onboard.append(CreditorToOnboard(user_id=uid, status=status.status,
                                                    onboarding_url=status.onboarding_url))
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="show_portfolio")
    figures = portfolio_figures(receivables, date.today())
    hub = hub_of(ctx)
    events, _ = await hub.inbox.list(handled="unhandled", limit=10)
    unhandled = await hub.inbox.count(handled="unhandled")
    needs = (len(figures.disputes_awaiting_evidence) + len(figures.partial_payments_awaiting_decision)
             + len(to_onboard) + unhandled)
    summary = (f"{figures.receivable_count} receivable(s): {euros(figures.outstanding)} outstanding, "
               f"{euros(figures.recovered)} recovered; fees {euros(figures.fees_paid)} paid, "
               f"{euros(figures.fees_expected)} expected. {needs} item(s) need you.")
    return PortfolioView(**figures.model_dump(), creditors_not_onboarded=to_onboard,
                         unhandled_events_total=unhandled, unhandled_events=[event_row(e) for e in events],
                         truncated=truncated, summary=summary)


class TimelineEntry(BaseModel):
    at: datetime | date | None = None
    kind: Literal["submitted", "event", "contact", "next_action", "status"]
    label: str
    planned: bool = Field(False, description="True: in the future (the next action)")


class Timeline(BaseModel):
    receivable_id: str
    emails_sent: int
    calls_made: int
    entries: list[TimelineEntry]


@tool(title="Receivable timeline", toolset=Toolset.RECEIVABLES, kind=Kind.READ, idempotent=True, open_world=False,
      view=RECEIVABLE_URI, app_only=True)
async def receivable_timeline(receivable_id: ReceivableId, ctx: Context) -> Timeline:
    """The lifecycle of one receivable, oldest first: submission, the recovery events this server received
    (status changes, disputes, payments), contacts made, and the next action with its date. For the Receivable
    view; get_receivable has the same facts for the model."""
    try:
        r = await scope.receivable(state_of(ctx).client, receivable_id)
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="receivable_timeline")
    entries = [TimelineEntry(at=r.created_at, kind="submitted",
                             label=f"Submitted for recovery: {euros(r.amount)}, invoice(s) {', '.join(r.invoice.numbers)}")]
    events, _ = await hub_of(ctx).inbox.list(receivable_id=receivable_id, limit=100)
    for e in sorted(events, key=lambda e: e.seq):
        entries.append(TimelineEntry(at=e.created_at or e.received_at, kind="event", label=event_row(e).summary))
    if r.dispute is not None and r.dispute.opened_at and not events:
        entries.append(TimelineEntry(at=r.dispute.opened_at, kind="event", label=f"Disputed: {r.dispute.reason}"))
    progress = r.recovery_progress
    if progress.last_contact:
        entries.append(TimelineEntry(at=progress.last_contact, kind="contact",
                                     label=f"Last contact ({progress.emails_sent} email(s), {progress.calls_made} call(s) so far)"))
    entries.append(TimelineEntry(at=r.updated_at, kind="status", label=f"Now {r.status.value}"))
    if progress.next_action:
        entries.append(TimelineEntry(at=progress.next_action_date, kind="next_action", planned=True,
                                     label=f"Next: {progress.next_action.replace('_', ' ')}"))
    return Timeline(receivable_id=r.id, emails_sent=progress.emails_sent, calls_made=progress.calls_made,
                    entries=entries)
