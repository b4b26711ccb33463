"""Receivables: submit (one or a batch), read, list, add a contact, update metadata, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, Field, WithJsonSchema

from ..cleavr.contract import CANCELLABLE_STATUSES, MISSING_PHONE_MESSAGE, CancelReason, ReceivableStatus
from ..cleavr.models import (
    BatchRequest,
    CancelRequest,
    CommissionQuoteRequest,
    Contact,
    Debtor,
    ExtractionId,
    InvoiceDetails,
    ListReceivablesQuery,
    Metadata,
    Receivable,
    ReceivableCreate,
    ReceivableId,
    UserId,
)
from ..cleavr.validation import compute_commission, days_since, normalize_phone
from ..domain import scope
from ..domain.approval import Fact, Money, Phrase, View, visible
from ..domain.approval import quote as quote_phrase
from ..extraction.second_reading import field_label
from ..toolkit.confirm import Question, ask
from ..toolkit.errors import error_result, from_exception
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import state_of
from ..toolkit.writes import (
    Failed,
    NoApprovalNeeded,
    Stop,
    WriteOutcome,
    approve,
    confirm_then_write,
    execute,
    is_final,
)
from ..views import RECEIVABLE_URI
from .forms import Confirm, ConfirmBatch, submission_form
from .shapes import (
    ReceivableRow,
    ReceivableSummary,
    ReceivableView,
    euros,
    receivable_row,
    receivable_summary,
    receivable_view,
)

TOKEN_DESCRIPTION = "Only after a confirmation_required result and the user's yes: its token (never invent one)"


class ReadingDiscrepancy(BaseModel):
    """Where Cleavr's reading of the PDF and the server's own disagree (from extract_pdf)."""

    model_config = {"extra": "forbid"}

    field: str = Field(max_length=100)
    cleavr: str | None = Field(None, max_length=500)
    pdf: str = Field(max_length=500)


class ReceivableSubmission(BaseModel):
    model_config = {"extra": "forbid"}

    user_id: UserId = Field(description="The creditor owed the money")
    invoice: InvoiceDetails
    debtor: Debtor
    metadata: Metadata = Field(default_factory=dict)
    extraction_id: ExtractionId | None = None  # from extract_pdf's draft
    # Copied unchanged from extract_pdf's draft, so its item schema is not repeated here (still validated in full).
    discrepancies: Annotated[list[ReadingDiscrepancy], WithJsonSchema({"type": "array", "items": {"type": "object"}})] = (
        Field(default_factory=list))

    def to_create(self, **changes: Any) -> ReceivableCreate:
        data = self.model_dump(exclude_none=True, exclude={"discrepancies"})
        return ReceivableCreate.model_validate({**data, **changes})


# --- shared helpers ----------------------------------------------------------------------------------------
def _has_email(debtor: Debtor) -> bool:
    return any(c.email for c in debtor.contacts)


def _has_phone(debtor: Debtor) -> bool:
    return any(c.phone for c in debtor.contacts)


def _with_contact_details(debtor: Debtor, *, email: str | None, phone: str | None) -> Debtor:
    """Add the human's answers to the primary contact (or create one)."""
    contacts = [c.model_copy() for c in debtor.contacts]
    if not contacts:
        contacts = [Contact(level=0)]
    primary = min(range(len(contacts)), key=lambda i: contacts[i].level)
    updates: dict[str, Any] = {}
    if email and not contacts[primary].email:
        updates["email"] = email
    if phone and not contacts[primary].phone:
        updates["phone"] = phone
    contacts[primary] = Contact.model_validate({**contacts[primary].model_dump(exclude_none=True), **updates})
    return debtor.model_copy(update={"contacts": contacts})


def _describe_debtor(debtor: Debtor) -> str:
    """Data (made visible when shown): the name as given, then its identifier."""
    ident = f" (SIRET {debtor.siret})" if debtor.siret else (f" (VAT {debtor.vat_number})" if debtor.vat_number else "")
    return f"{debtor.company_name}{ident}"


async def _quote_line(state, amount: Decimal, issue_date: date) -> tuple[str, Any]:
    quote = await state.client.calculate_commission(CommissionQuoteRequest(amount=amount, invoice_date=issue_date))
    line = (f"Commission: {quote.rate_percentage:.2f} % = {euros(quote.commission_amount)}, "
            f"you receive {euros(quote.net_recovery)} ({quote.rate_tier})")
    return line, quote


def _check_locally(create: ReceivableCreate) -> ReceivableCreate:
    from ..cleavr.prepare import prepare_receivable

    return prepare_receivable(create)


# --- submit_receivable -------------------------------------------------------------------------------------
class SubmitOutcome(WriteOutcome):
    receivable: ReceivableSummary | None = None
    commission_summary: str | None = None
    submitted_without_phone: bool = False


async def _ask_submit(receivable: ReceivableSubmission, ctx: Context) -> Any:
    """Build the human's question: debtor, amount, quote; ask for a missing email or phone in the same form."""
    state = state_of(ctx)
    need_email = not _has_email(receivable.debtor)
    need_phone = not _has_phone(receivable.debtor)
    try:
        # Validate everything else now; a missing email is asked for below instead of failing here.
        probe = receivable.debtor if not need_email else _with_contact_details(
            receivable.debtor, email="placeholder@example.com", phone=None)
        prepared = _check_locally(receivable.to_create(debtor=probe.model_dump(exclude_none=True)))
        status = await state.client.get_onboarding_status(receivable.user_id)
        if not status.capabilities.send_receivables:
            return Failed(error_result(
                code="USER_NOT_ONBOARDED",
                message=f"Creditor {receivable.user_id} has not completed onboarding (status {status.status.value}).",
                details={"onboarding_url": status.onboarding_url}, tool="submit_receivable"))
        quote_parts = await _quote_line(state, prepared.invoice.amount, prepared.invoice.issue_date)
    except Exception as exc:  # noqa: BLE001 - reported by the tool body as an isError result
        return Failed(exc)
    inv = prepared.invoice
    overdue = days_since(inv.due_date)
    _, fee = quote_parts
    facts = [
        Fact("Environment", state.environment.value),
        Fact("Debtor", _describe_debtor(receivable.debtor)),
        Fact("Invoice(s)", ", ".join(inv.numbers)),
        Fact("Amount incl. tax", Money(inv.amount)),
        Fact("Issued", inv.issue_date.isoformat()),
        Fact("Due", inv.due_date.isoformat()),
    ]
    if overdue > 0:
        facts.append(Fact("Days overdue", str(overdue)))
    facts.append(Fact("Commission", quote_phrase(fee.rate_percentage, fee.commission_amount, fee.net_recovery,
                                          fee.rate_tier)))
    # What the extraction disagreed on (data, shown on one visible line each)
    facts += [Fact("Check", f"{field_label(d.field)}: Cleavr read {d.cleavr or 'nothing'}; the PDF says {d.pdf}")
              for d in receivable.discrepancies]
    notes = []
    if need_email:
        notes.append("No debtor email: Cleavr requires one; enter it below.")
    if need_phone:
        notes.append(f"No debtor phone. {MISSING_PHONE_MESSAGE} Enter a phone, or choose to proceed without one.")
    blocking = None
    if need_email:
        blocking = ("MISSING_EMAIL_CONTACT",
                    "No debtor contact has an email and this client cannot show a form. Ask the user for the "
                    "debtor's email, add it to debtor.contacts[0].email, and call submit_receivable again.")
    view = View(title="Submit this unpaid invoice to Cleavr for debt recovery?", facts=tuple(facts),
                notes=tuple(notes), ask_email=need_email, ask_phone=need_phone)
    # The message's first line names the environment, as every write question does ("… (sandbox)?").
    message = view.message().replace(view.title, f"Submit this unpaid invoice to Cleavr for debt recovery "
                                                 f"({state.environment.value})?", 1)
    question = Question(message=message, form=submission_form(need_email=need_email, need_phone=need_phone),
                        blocking=blocking, view=view)
    return ask(ctx, question)


@tool(title="Submit an unpaid invoice for recovery", toolset=Toolset.RECEIVABLES, kind=Kind.WRITE, money=True,
      idempotent=True, open_world=True)
async def submit_receivable(
    receivable: ReceivableSubmission,
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_submit)],
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> SubmitOutcome:
    """Send an unpaid invoice to Cleavr for debt recovery, once the creditor can submit (get_user_status) and
    the user has seen quote_commission. The user confirms; a missing email or phone is asked for then. A repeat
    returns the same receivable, never a second one. Next: get_receivable."""
    state = state_of(ctx)
    payload = receivable.model_dump(mode="json")
    decision = await approve(ctx, tool="submit_receivable", answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=SubmitOutcome, user_id=receivable.user_id)
    if isinstance(decision, Stop):
        return decision.result
    answers = decision.answers
    phone = (answers.get("phone") or "").strip() or None
    if phone is not None:
        normalised = normalize_phone(phone)
        if normalised is None:
            return error_result(code="VALIDATION_ERROR", field="phone", tool="submit_receivable",
                                message=f"The phone number entered ({phone}) is not a valid number. Nothing was sent.",
                                next_step="Call submit_receivable again and enter the phone in international form.")
        phone = normalised
    debtor = _with_contact_details(receivable.debtor, email=answers.get("email") or None, phone=phone)
    force = False
    if not _has_phone(debtor):
        if not answers.get("proceed_without_phone"):
            return SubmitOutcome(status="declined", environment=state.environment.value,
                                 message="No phone was given and the user did not choose to proceed without one. "
                                 "Nothing was sent.", next_step="Ask the user for the debtor's phone number.")
        force = True
    try:
        create = _check_locally(receivable.to_create(debtor=debtor.model_dump(exclude_none=True),
                                                     force_proceed=True if force else None))
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="submit_receivable")
    result = await execute(ctx, tool="submit_receivable", payload=payload, approval=decision,
                           call=lambda: state.client.submit_receivable(create), result_id=lambda r: r.value.id,
                           user_id=receivable.user_id)
    if isinstance(result, CallToolResult):
        return result
    rec = result.value
    if result.replayed:
        # A replay returns the stored first answer; show the receivable as it is now (it may have moved on).
        try:
            rec = await state.client.get_receivable(rec.id)
        except Exception:  # noqa: BLE001 - the replayed answer is still correct about what was created
            pass
    summary = (f"{rec.commission.rate:.2f} % = {euros(rec.commission.amount)}, "
               f"you receive {euros(rec.amount - rec.commission.amount)}") if rec.commission else None
    verb = "was already submitted" if result.replayed else "submitted"
    return SubmitOutcome(
        status="done", environment=state.environment.value, idempotent_replay=result.replayed,
        message=f"Receivable {rec.id} {verb} for {euros(rec.amount)} against {rec.debtor.company_name} "
        f"(status {rec.status.value}).", receivable=receivable_summary(rec), commission_summary=summary, submitted_without_phone=force,
        next_step="Follow it with get_receivable (or list_events for news such as payments and disputes).",
    )


# --- read and list -----------------------------------------------------------------------------------------
@tool(title="Get a receivable", toolset=Toolset.RECEIVABLES, kind=Kind.READ, idempotent=True, open_world=False,
      view=RECEIVABLE_URI)
async def get_receivable(receivable_id: ReceivableId, ctx: Context) -> ReceivableView:
    """One receivable in full (ids from list_receivables or list_events): status, amounts, commission, recovery
    progress, any dispute (the debtor's message is third-party text) or partial payment, and what_to_do next."""
    try:
        return receivable_view(await scope.receivable(state_of(ctx).client, receivable_id))
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="get_receivable")


class ReceivableListView(BaseModel):
    rows: list[ReceivableRow]
    total: str = Field(description="One line: how many rows, their sum, and whether more exist")
    next_cursor: str | None = Field(None, description="Pass as cursor to get the next page")


@tool(title="List receivables", toolset=Toolset.RECEIVABLES, kind=Kind.READ, idempotent=True, open_world=False)
async def list_receivables(
    ctx: Context,
    user_id: UserId | None = None,
    status: ReceivableStatus | None = None,
    created_after: date | None = None,
    created_before: date | None = None,
    limit: int = Field(20, ge=1, le=100, description="Rows per page (default 20, max 100)"),
    cursor: ReceivableId | None = Field(None, description="next_cursor from the previous page"),
) -> ReceivableListView:
    """List receivables, newest first, as compact rows; filter by creditor, status and creation dates; page
    with cursor. Then get_receivable for one in full."""
    state = state_of(ctx)
    try:
        # Only the caller's creditors' rows (domain.scope), with limit and cursor kept exact.
        found, has_more = await scope.receivables_page(state.client, ListReceivablesQuery(
            user_id=user_id, status=status, created_after=created_after, created_before=created_before, limit=limit,
            starting_after=cursor))
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="list_receivables")
    rows = [receivable_row(r) for r in found]
    total = sum((r.amount for r in rows), Decimal(0))
    more = f" More exist: call again with cursor={rows[-1].id}." if has_more and rows else ""
    return ReceivableListView(rows=rows, total=f"{len(rows)} receivable(s) shown, {euros(total)} in all.{more}",
                              next_cursor=rows[-1].id if has_more and rows else None)


# --- add_contact / metadata ----------------------------------------------------------------------------------
class ReceivableWriteOutcome(WriteOutcome):
    receivable: ReceivableSummary | None = None


# The metadata keys that tie a receivable to a CleverInvo invoice: changing them can hide an invoice from
# list_overdue_invoices (or mark it as already submitted), so that needs a person's approval.
CLEVERINVO_LINK_KEYS = ("source", "platform_invoice_id")


async def _ask_contact(receivable_id: ReceivableId, contact: Contact, ctx: Context) -> Any:
    state = state_of(ctx)
    rec = await current_receivable(ctx, receivable_id)
    if isinstance(rec, Failed):
        return rec
    phone = normalize_phone(contact.phone) if contact.phone else None
    known_emails = {(c.email or "").strip().lower() for c in rec.debtor.contacts}
    known_phones = {normalize_phone(c.phone) or c.phone for c in rec.debtor.contacts if c.phone}
    new_email = contact.email and contact.email.strip().lower() not in known_emails
    new_phone = phone is not None and phone not in known_phones
    if not new_email and not new_phone:
        return NoApprovalNeeded()
    who = " ".join(p for p in (contact.first_name, contact.last_name) if p) or "—"
    facts = [Fact("Environment", state.environment.value), Fact("Receivable", receivable_id),
             Fact("Debtor", rec.debtor.company_name), Fact("Contact", who)]
    if new_email:
        facts.append(Fact("New email", contact.email or ""))
    if new_phone:
        facts.append(Fact("New phone", phone or ""))
    facts.append(Fact("Level", str(contact.level)))
    view = View(title="Add this contact to the debtor? Cleavr will contact this person.", facts=tuple(facts))
    return ask(ctx, Question.of(view, Confirm))


@tool(title="Add a debtor contact", toolset=Toolset.RECEIVABLES, kind=Kind.WRITE, idempotent=True, open_world=True)
async def add_contact(
    receivable_id: ReceivableId,
    contact: Contact,
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_contact)],
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> ReceivableWriteOutcome:
    """Add a contact (email and/or phone) to a receivable's debtor: a phone found later, or an escalation
    contact (level 1 or 2). Cleavr will contact this person, so a new email or phone is approved by the user."""
    state = state_of(ctx)
    if contact.phone:
        normalised = normalize_phone(contact.phone)
        if normalised is None:
            return error_result(code="VALIDATION_ERROR", field="contact.phone", tool="add_contact",
                                message=f"{contact.phone!r} is not a valid phone number.",
                                next_step="Ask the user for the number in international form (+33…) and retry.")
        contact = contact.model_copy(update={"phone": normalised})
    if not contact.email and not contact.phone:
        return error_result(code="VALIDATION_ERROR", field="contact", tool="add_contact",
                            message="A contact needs an email or a phone.")
    payload = {"receivable_id": receivable_id, "contact": contact.model_dump(mode="json", exclude_none=True)}
    decision = await approve(ctx, tool="add_contact", answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=ReceivableWriteOutcome)
    if isinstance(decision, Stop):
        return decision.result
    result = await execute(ctx, tool="add_contact", payload=payload, approval=decision,
                           call=lambda: state.client.add_contact(receivable_id, contact), result_id=lambda r: r.value.id)
    if isinstance(result, CallToolResult):
        return result
    return ReceivableWriteOutcome(status="done", environment=state.environment.value, idempotent_replay=result.replayed,
                                  message=f"Contact added to {receivable_id}.", receivable=receivable_summary(result.value))


async def _ask_metadata(receivable_id: ReceivableId, metadata: Metadata, ctx: Context) -> Any:
    touched = [k for k in CLEVERINVO_LINK_KEYS if k in metadata]
    if not touched:
        return NoApprovalNeeded()
    state = state_of(ctx)
    rec = await current_receivable(ctx, receivable_id)
    if isinstance(rec, Failed):
        return rec
    before = rec.metadata or {}
    facts = [Fact("Environment", state.environment.value), Fact("Receivable", receivable_id),
             Fact("Debtor", rec.debtor.company_name), Fact("Invoice(s)", ", ".join(rec.invoice.numbers))]
    facts += [Fact("Metadata", f"{key}: {before.get(key, '—')} → {metadata[key]}") for key in touched]
    view = View(title="Change this receivable's CleverInvo link?", facts=tuple(facts), notes=(
        "This decides whether a CleverInvo invoice counts as already sent to Cleavr (list_overdue_invoices hides "
        "it, recover_invoice will not send it).",))
    return ask(ctx, Question.of(view, Confirm))


@tool(title="Update receivable metadata", toolset=Toolset.RECEIVABLES, kind=Kind.WRITE, idempotent=True,
      open_world=False)
async def update_receivable_metadata(
    receivable_id: ReceivableId,
    metadata: Metadata,
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_metadata)],
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> ReceivableWriteOutcome:
    """Set your own references and notes on a receivable (e.g. internal_note). Keys given replace the same
    keys; other keys are kept. Changing source or platform_invoice_id (the CleverInvo link) is approved by the user."""
    state = state_of(ctx)
    payload = {"receivable_id": receivable_id, "metadata": metadata}
    decision = await approve(ctx, tool="update_receivable_metadata", answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=ReceivableWriteOutcome)
    if isinstance(decision, Stop):
        return decision.result

    async def call():
        return await state.client.update_metadata(receivable_id, metadata)

    result = await execute(ctx, tool="update_receivable_metadata", payload=payload, approval=decision,
                           call=call, result_id=lambda r: r.id, replayed=lambda r: False)
    if isinstance(result, CallToolResult):
        return result
    return ReceivableWriteOutcome(status="done", environment=state.environment.value,
                                  message=f"Metadata of {receivable_id} updated.", receivable=receivable_summary(result))


# --- cancel -----------------------------------------------------------------------------------------------
CANCEL_REASONS = {
    CancelReason.PAID_DIRECTLY: "the debtor paid outside Cleavr",
    CancelReason.DISPUTED_VALID: "the debtor's dispute is valid",
    CancelReason.BUSINESS_DECISION: "a business decision to stop",
    CancelReason.INCORRECT_SUBMISSION: "the receivable data was wrong",
}


async def current_receivable(ctx: Context, receivable_id: str) -> Receivable | Failed:
    """The receivable as it is now, for a resolver building its question (a lookup error ends the call)."""
    try:
        return await state_of(ctx).client.get_receivable(receivable_id)
    except Exception as exc:  # noqa: BLE001 - reported by the tool body as an isError result
        return Failed(exc)


async def _ask_cancel(receivable_id: ReceivableId, reason: CancelReason, notes: str | None, ctx: Context) -> Any:
    state = state_of(ctx)
    rec = await current_receivable(ctx, receivable_id)
    if isinstance(rec, Failed):
        return rec
    if rec.status not in CANCELLABLE_STATUSES:
        return Failed(error_result(
            code="INVALID_STATE", tool="cancel_receivable",
            message=f"{receivable_id} is {rec.status.value}; only pending, in_process, disputed or evidence_requested "
            "receivables can be cancelled.", details={"current_status": rec.status.value}))
    message = "\n".join([
        f"Cancel the recovery of {euros(rec.amount)} owed by {visible(rec.debtor.company_name)} "
        f"(invoice(s) {visible(', '.join(rec.invoice.numbers))}, now {rec.status.value}) — {state.environment.value}?",
        f"Reason: {reason.value} ({CANCEL_REASONS[reason]}).",
        "This is final: Cleavr stops every recovery action and the receivable cannot be reopened.",
    ])
    view = View(title="Cancel this recovery?", facts=(
        Fact("Environment", state.environment.value), Fact("Receivable", receivable_id),
        Fact("Debtor", rec.debtor.company_name), Fact("Invoice(s)", ", ".join(rec.invoice.numbers)),
        Fact("Amount incl. tax", Money(rec.amount)), Fact("Status", rec.status.value),
        Fact("Reason", f"{reason.value} ({CANCEL_REASONS[reason]})")) + (
        (Fact("Notes", notes),) if notes else ()),
        notes=("This is final: Cleavr stops every recovery action and the receivable cannot be reopened.",))
    return ask(ctx, Question(message=message, form=Confirm, view=view))


class CancelOutcome(WriteOutcome):
    receivable: ReceivableSummary | None = None


@tool(title="Cancel a recovery", toolset=Toolset.RECEIVABLES, kind=Kind.DESTRUCTIVE, money=True, idempotent=True,
      open_world=False)
async def cancel_receivable(
    receivable_id: ReceivableId,
    reason: CancelReason,
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_cancel)],
    notes: str | None = Field(None, max_length=5000),
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> CancelOutcome:
    """Stop the recovery of a receivable, for good: paid_directly (paid outside Cleavr), disputed_valid,
    business_decision or incorrect_submission. Possible while pending, in_process, disputed or
    evidence_requested; the user confirms first."""
    state = state_of(ctx)
    payload = {"receivable_id": receivable_id, "reason": reason.value, "notes": notes}
    request = CancelRequest(reason=reason, notes=notes)
    result = await confirm_then_write(ctx, tool="cancel_receivable", answer=answer, payload=payload,
                                      confirmation_token=confirmation_token, outcome=CancelOutcome,
                                      call=lambda: state.client.cancel_receivable(receivable_id, request))
    if is_final(result):
        return result
    return CancelOutcome(status="done", environment=state.environment.value, idempotent_replay=result.replayed,
                         message=f"Recovery of {receivable_id} cancelled ({reason.value}).",
                         receivable=receivable_summary(result.value))


# --- batch ------------------------------------------------------------------------------------------------
class BatchItemResult(BaseModel):
    index: int
    outcome: Literal["submitted", "already_submitted", "skipped", "failed"]
    receivable_id: str | None = None
    invoice_numbers: list[str] = Field(default_factory=list)
    amount: str | None = None
    reason: str | None = Field(None, description="Why it was skipped or failed")
    error_code: str | None = None


class BatchOutcome(WriteOutcome):
    results: list[BatchItemResult] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)


@dataclass
class _BatchPlan:
    valid: list[tuple[int, ReceivableCreate]]
    invalid: list[BatchItemResult]
    no_phone: list[int]


def _plan_batch(receivables: list[ReceivableSubmission]) -> _BatchPlan:
    valid, invalid, no_phone = [], [], []
    for i, item in enumerate(receivables):
        try:
            prepared = _check_locally(item.to_create())
        except Exception as exc:  # noqa: BLE001 - a bad item must not block the others
            invalid.append(BatchItemResult(index=i, outcome="failed", invoice_numbers=list(item.invoice.numbers),
                                           amount=f"{item.invoice.amount:.2f}", reason=getattr(exc, "message", str(exc)),
                                           error_code=getattr(exc, "code", "VALIDATION_ERROR")))
            continue
        valid.append((i, prepared))
        if not _has_phone(item.debtor):
            no_phone.append(i)
    return _BatchPlan(valid=valid, invalid=invalid, no_phone=no_phone)


async def _ask_batch(receivables: list[ReceivableSubmission], ctx: Context) -> Any:
    state = state_of(ctx)
    plan = _plan_batch(receivables)
    if not plan.valid:
        return Failed(error_result(code="VALIDATION_ERROR", tool="submit_receivables_batch",
                                   message="No receivable in the batch is valid: " + "; ".join(
                                       f"#{r.index}: {r.reason}" for r in plan.invalid[:10])))
    try:
        rates = (await state.client.get_commission_rates()).default_rates
    except Exception as exc:  # noqa: BLE001
        return Failed(exc)
    tiers = tuple((r.days_from, r.days_to, r.rate) for r in rates)
    total = sum((c.invoice.amount for _, c in plan.valid), Decimal(0))
    fees = sum((compute_commission(c.invoice.amount, days_since(c.invoice.issue_date), tiers)["commission_amount"]
                for _, c in plan.valid), Decimal(0))
    lines = [f"Submit {len(plan.valid)} receivable(s) to Cleavr for debt recovery ({state.environment.value})?",
             f"Total {euros(total)}; commission if all recovered {euros(fees)}; you would receive {euros(total - fees)}."]
    rows = []
    for index, create in plan.valid:
        inv = create.invoice
        rows.append((str(index), create.debtor.company_name, ", ".join(inv.numbers), Money(inv.amount),
                     str(days_since(inv.due_date)), "—" if index in plan.no_phone else "✓"))
        lines.append(f"  - #{index} {visible(create.debtor.company_name, limit=80)}: "
                     f"{visible(', '.join(inv.numbers), limit=80)} {euros(inv.amount)}")
    if plan.invalid:
        lines.append(f"{len(plan.invalid)} item(s) are invalid and will not be sent.")
    if plan.no_phone:
        lines.append(f"{len(plan.no_phone)} have no debtor phone. {MISSING_PHONE_MESSAGE} "
                     "Tick 'proceed without phone' to send them too; otherwise they are skipped.")
    facts = [Fact("Environment", state.environment.value), Fact("Receivables", str(len(plan.valid))),
             Fact("Total", Money(total)), Fact("Commission if all recovered", Money(fees)),
             Fact("You receive", Money(total - fees))]
    if plan.invalid:
        facts.append(Fact("Invalid (not sent)", ", ".join(f"#{r.index}" for r in plan.invalid)))
    view = View(title="Submit these receivables to Cleavr for debt recovery?", facts=tuple(facts),
                columns=("#", "Debtor", "Invoice(s)", "Amount incl. tax", "Days overdue", "Phone"), rows=tuple(rows),
                notes=(Phrase(f"{{count}} have no debtor phone. {MISSING_PHONE_MESSAGE}", {"count": len(plan.no_phone)}),)
                if plan.no_phone else (),
                batch_without_phone=len(plan.no_phone))
    return ask(ctx, Question(message="\n".join(lines), form=ConfirmBatch if plan.no_phone else Confirm, view=view))


# The batch's items are submit_receivable's `receivable`: shown as a reference plus the required skeleton instead of
# a second copy of the whole schema (5 KB). Validation is unchanged: each item is still a ReceivableSubmission.
BATCH_ITEMS_SCHEMA = {
    "type": "array", "minItems": 1, "maxItems": 100,
    "items": {
        "type": "object",
        "description": "A receivable exactly as submit_receivable's `receivable` (same fields, same rules)",
        "required": ["user_id", "invoice", "debtor"],
        "properties": {
            "user_id": {"type": "string"},
            "invoice": {"type": "object", "required": ["numbers", "issue_date", "due_date", "amount"]},
            "debtor": {"type": "object", "required": ["company_name"]},
        },
    },
}


@tool(title="Submit receivables in bulk", toolset=Toolset.RECEIVABLES, kind=Kind.WRITE, money=True, idempotent=True,
      open_world=True)
async def submit_receivables_batch(
    receivables: Annotated[list[ReceivableSubmission], Field(min_length=1, max_length=100),
                           WithJsonSchema(BATCH_ITEMS_SCHEMA)],
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_batch)],
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> BatchOutcome:
    """Submit up to 100 receivables with one confirmation (count, total, total fee), instead of many
    submit_receivable calls. Invalid items are reported, not sent; items without a phone go only if the user
    agrees. One result per item (submitted, already_submitted, skipped, failed). Safe to retry."""
    state = state_of(ctx)
    payload = {"receivables": [r.model_dump(mode="json") for r in receivables]}
    decision = await approve(ctx, tool="submit_receivables_batch", answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=BatchOutcome)
    if isinstance(decision, Stop):
        return decision.result
    plan = _plan_batch(receivables)
    results = list(plan.invalid)
    to_send: list[tuple[int, ReceivableCreate]] = []
    for index, create in plan.valid:
        if index in plan.no_phone:
            if not decision.answers.get("proceed_without_phone"):
                results.append(BatchItemResult(index=index, outcome="skipped", invoice_numbers=list(create.invoice.numbers),
                                               amount=f"{create.invoice.amount:.2f}",
                                               reason="No debtor phone and the user chose not to proceed without one."))
                continue
            create = create.model_copy(update={"force_proceed": True})
        to_send.append((index, create))
    if to_send:
        request = BatchRequest(receivables=[c for _, c in to_send])
        sent = await execute(ctx, tool="submit_receivables_batch", payload=payload, approval=decision,
                             call=lambda: state.client.submit_batch(request),
                             result_id=lambda r: ",".join(s.id for s in r.value.successful)[:500])
        if isinstance(sent, CallToolResult):
            return sent
        for ok in sent.value.successful:
            index, create = to_send[ok.index]
            results.append(BatchItemResult(index=index, outcome="already_submitted" if sent.replayed else "submitted",
                                           receivable_id=ok.id, invoice_numbers=list(create.invoice.numbers),
                                           amount=f"{create.invoice.amount:.2f}"))
        for bad in sent.value.failed:
            index, create = to_send[bad.index]
            results.append(BatchItemResult(index=index, outcome="failed", invoice_numbers=list(create.invoice.numbers),
                                           amount=f"{create.invoice.amount:.2f}", reason=bad.message,
                                           error_code=bad.error))
    results.sort(key=lambda r: r.index)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return BatchOutcome(status="done", environment=state.environment.value, results=results, counts=counts,
                        message="Batch processed: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ".",
                        next_step="Use list_receivables to follow them; fix failed items and submit them again.")
