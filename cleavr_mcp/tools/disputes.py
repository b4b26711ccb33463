"""Disputes and partial payments: answer a dispute with evidence, decide what to do after a partial payment."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ..cleavr.contract import EVIDENCE_STATUSES, MAX_EVIDENCE_DOCUMENTS, DocumentType, PartialPaymentAction
from ..cleavr.models import EvidenceDocument, EvidenceRequest, PartialPaymentDecision, ReceivableId
from ..domain.approval import Fact, FileFact, Money, Phrase, View, visible
from ..toolkit.confirm import Question, ask
from ..toolkit.errors import error_result
from ..toolkit.files import FileInputError, FileSource, HeldFile, allowed_roots, human_size, load_file
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import state_of
from ..toolkit.writes import Failed, Stop, WriteOutcome, approve, confirm_then_write, execute, is_final
from .forms import Confirm
from .receivables import TOKEN_DESCRIPTION, current_receivable
from .shapes import ReceivableSummary, euros, receivable_summary


class EvidenceFile(FileSource):
    """A document: exactly one of path, uri or content_base64, and what it proves."""

    type: DocumentType = Field(description="What the document proves")
    description: str | None = Field(None, max_length=500)


class EvidenceOutcome(WriteOutcome):
    receivable: ReceivableSummary | None = None
    documents: list[str] = Field(default_factory=list, description="filename (type, size) of each document sent")


async def _hold_documents(documents: list[EvidenceFile], ctx: Context) -> list[HeldFile] | FileInputError:
    """Read every document once, for this call: the question shows these bytes (name, size, SHA-256 prefix) and the
    body sends these same bytes, never a second read of the disk (a file swapped in between is never sent).
    A FileInputError (returned, not raised, so the receivable is checked first) carries the index at fault."""
    roots = await allowed_roots(ctx, state_of(ctx).settings.allowed_roots)
    held = []
    for index, doc in enumerate(documents):
        try:
            held.append(load_file(doc, "evidence", roots))
        except FileInputError as exc:
            exc.index = index
            return exc
    return held


def _file_error(exc: FileInputError, index: int, tool: str) -> CallToolResult:
    return error_result(code=exc.code, message=f"Document {index}: {exc.message} Nothing was sent.",
                        field=f"documents[{index}].{exc.field}", tool=tool,
                        next_step="Fix that document (a PDF, PNG or JPEG of at most 20 MB inside an allowed folder) "
                        "and call submit_evidence again.")


async def _ask_evidence(receivable_id: ReceivableId, documents: list[EvidenceFile], statement: str, ctx: Context,
                        held: Annotated[list[HeldFile] | FileInputError, Resolve(_hold_documents)]) -> Any:
    state = state_of(ctx)
    rec = await current_receivable(ctx, receivable_id)
    if isinstance(rec, Failed):
        return rec
    if rec.status not in EVIDENCE_STATUSES:
        return Failed(error_result(code="INVALID_STATE", tool="submit_evidence", details={"current_status": rec.status.value},
                                   message=f"{receivable_id} is {rec.status.value}; evidence is accepted only while it is "
                                   "disputed or evidence_requested."))
    if isinstance(held, FileInputError):
        return Failed(_file_error(held, held.index, "submit_evidence"))
    lines = [f"Send this evidence to Cleavr for the dispute on {visible(rec.debtor.company_name)} "
             f"({euros(rec.amount)}, invoice(s) {visible(', '.join(rec.invoice.numbers))}) — {state.environment.value}?",
             "Documents:"]
    # The SHA-256 prefix makes the question differ when a file's content does: an answer to an earlier round's
    # question then no longer counts (the SDK asks again), and a token no longer matches.
    lines += [f"  - {visible(f.filename, limit=120)} ({d.type.value}, {human_size(f.size)}, SHA-256 {f.sha256_prefix})"
              for f, d in zip(held, documents)]
    lines.append(f"Statement: {visible(statement, limit=400)}")
    lines.append("Cleavr forwards the evidence and resumes recovery.")
    view = View(title="Send this evidence to Cleavr for the dispute?", facts=(
        Fact("Environment", state.environment.value), Fact("Receivable", receivable_id),
        Fact("Debtor", rec.debtor.company_name), Fact("Invoice(s)", ", ".join(rec.invoice.numbers)),
        Fact("Amount incl. tax", Money(rec.amount)), Fact("Statement", statement)),
        files=tuple(FileFact(name=f.filename, size=f.size, sha256=f.sha256, kind=d.type.value)
                    for f, d in zip(held, documents)),
        notes=("Cleavr forwards the evidence and resumes recovery.",))
    return ask(ctx, Question(message="\n".join(lines), form=Confirm, view=view,
                             summary={"documents": [f.summary() | {"type": d.type.value} for f, d in zip(held, documents)]}))


@tool(title="Answer a dispute with evidence", toolset=Toolset.DISPUTES, kind=Kind.WRITE, money=True, idempotent=True,
      open_world=True)
async def submit_evidence(
    receivable_id: ReceivableId,
    documents: Annotated[list[EvidenceFile], Field(min_length=1, max_length=MAX_EVIDENCE_DOCUMENTS)],
    statement: Annotated[str, Field(min_length=1, max_length=5000)],
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_evidence)],
    held: Annotated[list[HeldFile] | FileInputError, Resolve(_hold_documents)],
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> EvidenceOutcome:
    """Answer a debtor's dispute with documents (PDF, PNG or JPEG, ≤ 20 MB each, up to 10) and a statement.
    Call it after reading the dispute (get_receivable) and gathering the documents with the user; pass local
    paths rather than base64. The user confirms first. The receivable goes back to in_process."""
    state = state_of(ctx)
    loaded = held if isinstance(held, list) else []  # (a file error reaches the body through the answer)
    # The content is part of what is approved: a token covers these SHA-256s, and the audit row records them.
    payload = {"receivable_id": receivable_id, "documents": [d.model_dump(mode="json") for d in documents],
               "statement": statement, "documents_sha256": [f.sha256 for f in loaded]}
    decision = await approve(ctx, tool="submit_evidence", answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=EvidenceOutcome, files=loaded)
    if isinstance(decision, Stop):
        return decision.result
    request = EvidenceRequest(statement=statement, documents=[
        EvidenceDocument(type=d.type, filename=f.filename, description=d.description,
                         content_base64=base64.b64encode(f.data).decode())
        for d, f in zip(documents, loaded)])
    result = await execute(ctx, tool="submit_evidence", payload=payload, approval=decision,
                           call=lambda: state.client.submit_evidence(receivable_id, request), result_id=lambda r: r.value.id)
    if isinstance(result, CallToolResult):
        return result
    return EvidenceOutcome(status="done", environment=state.environment.value, idempotent_replay=result.replayed,
                           message=f"Evidence sent for {receivable_id}; status is now {result.value.status.value}.",
                           receivable=receivable_summary(result.value),
                           documents=[f"{f.filename} ({d.type.value}, {f.size} bytes)" for d, f in zip(documents, loaded)],
                           next_step=f"Mark the dispute's events handled: ack_event(receivable_id={receivable_id}). "
                           "Follow the receivable with get_receivable or list_events.")


# --- partial payments -----------------------------------------------------------------------------------------
ACTION_TEXT = {
    PartialPaymentAction.CONTINUE_RECOVERY: "keep recovering the remaining amount",
    PartialPaymentAction.MARK_COMPLETE: "accept the partial payment and close the recovery (the rest is written off)",
}


async def _ask_partial(receivable_id: ReceivableId, action: PartialPaymentAction, notes: str | None,
                       ctx: Context) -> Any:
    state = state_of(ctx)
    rec = await current_receivable(ctx, receivable_id)
    if isinstance(rec, Failed):
        return rec
    if rec.partial_payment is None:
        return Failed(error_result(code="INVALID_STATE", tool="handle_partial_payment",
                                   message=f"{receivable_id} has no partial payment waiting for a decision.",
                                   details={"current_status": rec.status.value}))
    pp = rec.partial_payment
    message = "\n".join([
        f"{visible(rec.debtor.company_name)} paid {euros(pp.paid_amount)} of {euros(pp.original_amount)} "
        f"(remaining {euros(pp.remaining_amount)}) — {state.environment.value}.",
        f"Decision: {action.value} — {ACTION_TEXT[action]}. Confirm?",
    ])
    view = View(title="Decide on this partial payment?", facts=(
        Fact("Environment", state.environment.value), Fact("Receivable", receivable_id),
        Fact("Debtor", rec.debtor.company_name),
        Fact("Paid", Phrase("{paid} / {total}", {"paid": Money(pp.paid_amount), "total": Money(pp.original_amount)})),
        Fact("Remaining", Money(pp.remaining_amount)), Fact("Decision", f"{action.value} — {ACTION_TEXT[action]}")) + (
        (Fact("Notes", notes),) if notes else ()))
    return ask(ctx, Question(message=message, form=Confirm, view=view))


class PartialPaymentOutcome(WriteOutcome):
    receivable: ReceivableSummary | None = None


@tool(title="Decide on a partial payment", toolset=Toolset.DISPUTES, kind=Kind.DESTRUCTIVE, money=True,
      idempotent=True, open_world=True)
async def handle_partial_payment(
    receivable_id: ReceivableId,
    action: PartialPaymentAction,
    ctx: Context,
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_partial)],
    notes: str | None = Field(None, max_length=5000),
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> PartialPaymentOutcome:
    """After a partial payment (event receivable.partial_payment), decide: continue_recovery (recover the rest)
    or mark_complete (accept what was paid; the rest is written off, final). The user confirms first."""
    state = state_of(ctx)
    payload = {"receivable_id": receivable_id, "action": action.value, "notes": notes}
    request = PartialPaymentDecision(action=action, notes=notes)
    result = await confirm_then_write(ctx, tool="handle_partial_payment", answer=answer, payload=payload,
                                      confirmation_token=confirmation_token, outcome=PartialPaymentOutcome,
                                      call=lambda: state.client.decide_partial_payment(receivable_id, request))
    if is_final(result):
        return result
    return PartialPaymentOutcome(status="done", environment=state.environment.value, idempotent_replay=result.replayed,
                                 message=f"Partial payment on {receivable_id}: {action.value}; status "
                                 f"{result.value.status.value}.", receivable=receivable_summary(result.value),
                                 next_step="Mark the receivable.partial_payment event handled with ack_event.")
