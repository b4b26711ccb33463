"""What a user can do with a receivable in each status, naming the tools: shown with every receivable (tools,
resources) and with every status-change event (events)."""

from __future__ import annotations

from ..cleavr.contract import ReceivableStatus

# What a user can do in each status, naming tools (shown with every receivable).
NEXT_ACTIONS: dict[ReceivableStatus, str] = {
    ReceivableStatus.PENDING: "Waiting to be sent to recovery. You may add_contact, or cancel_receivable.",
    ReceivableStatus.IN_PROCESS: "Recovery under way: follow recovery_progress; add_contact or cancel_receivable if needed.",
    ReceivableStatus.PAYMENT_RECEIVED: "The debtor paid; Cleavr is confirming the payment. Nothing to do.",
    ReceivableStatus.RECOVERED: "Recovered (final). Nothing to do.",
    ReceivableStatus.DISPUTED: "The debtor disputes the debt: read dispute.debtor_message, gather evidence with the user, "
    "then submit_evidence (or cancel_receivable with reason disputed_valid).",
    ReceivableStatus.EVIDENCE_REQUESTED: "Evidence is requested: submit_evidence with the documents listed in "
    "dispute.evidence_requested, or the receivable will be cancelled.",
    ReceivableStatus.CANCELLED: "Cancelled (final). Nothing to do.",
}
