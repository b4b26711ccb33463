"""The poller: where no webhook can reach this server, list the receivables now and then and record what changed.

Each receivable's last known state is kept in the inbox (`snapshots`, also updated by webhooks). A difference
becomes one *derived* event (`derived: true`, `source: "poller"`), typed like the webhook Cleavr would have sent
(receivable.disputed, receivable.partial_payment, …) so the same next steps apply. The very first poll only
records the baseline: it is not news that receivables exist. Ids are derived from the change itself, so polling
twice, or two pollers at once, never stores a change twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from ..cleavr.contract import LIST_LIMIT_MAX, EventType, ReceivableStatus
from ..cleavr.models import ListReceivablesQuery, Receivable
from .actions import EVENT_FOR_STATUS
from .store import EventInbox, Snapshot, StoredEvent

logger = logging.getLogger("cleavr_mcp.events")

BASELINE_KEY = "poller_baseline_at"
AWAITING_DECISION = "awaiting_decision"
# Receivables first seen after the baseline are news only in these states (the rest were created by the user).
ATTENTION = frozenset({ReceivableStatus.DISPUTED, ReceivableStatus.EVIDENCE_REQUESTED})


def awaiting_partial(rec: Receivable) -> str | None:
    """The paid amount of a partial payment waiting for the platform's decision, as a string; else None."""
    pp = rec.partial_payment
    if pp is None:
        return None
    status = (pp.model_extra or {}).get("status")
    if status is not None and status != AWAITING_DECISION:
        return None
    return f"{pp.paid_amount:.2f}"


def snapshot_of(rec: Receivable) -> Snapshot:
    return Snapshot(rec.id, rec.status.value, awaiting_partial(rec), rec.updated_at.isoformat(), rec.user_id)


def _derived_id(*parts: str) -> str:
    return "drv_" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def derived_events(rec: Receivable, previous: Snapshot | None, seen: Snapshot) -> list[dict[str, Any]]:
    """The events to record for `rec`, given the last known state (None: never seen since the baseline)."""
    events: list[dict[str, Any]] = []
    status_changed = previous is not None and previous.status != seen.status
    new_in_attention = previous is None and rec.status in ATTENTION
    if status_changed or new_in_attention:
        data: dict[str, Any] = {"receivable_id": rec.id, "from": previous.status if previous else None,
                                "to": seen.status}
        event_type = EVENT_FOR_STATUS.get(rec.status, EventType.RECEIVABLE_STATUS_CHANGED)
        if rec.status in ATTENTION and rec.dispute is not None:
            dispute = rec.dispute.model_dump(mode="json", include={"reason", "debtor_message", "evidence_requested"})
            data["dispute"] = dispute
            if event_type == EventType.RECEIVABLE_EVIDENCE_REQUESTED:
                data["evidence_requested"] = dispute.get("evidence_requested", [])
        elif event_type == EventType.RECEIVABLE_CANCELLED:
            reason = (rec.model_extra or {}).get("cancellation", {}) or {}
            if isinstance(reason, dict) and reason.get("reason"):
                data["reason"] = reason["reason"]
        events.append(_envelope(event_type, rec, data, seen, "status"))
    if seen.partial_paid is not None and (previous is None or previous.partial_paid != seen.partial_paid):
        pp = rec.partial_payment
        assert pp is not None
        data = {"receivable_id": rec.id, "original_amount": pp.original_amount, "paid_amount": pp.paid_amount,
                "remaining_amount": pp.remaining_amount, "action_required": "platform_decision"}
        events.append(_envelope(EventType.RECEIVABLE_PARTIAL_PAYMENT, rec, data, seen, "partial"))
    return events


def _envelope(event_type: EventType, rec: Receivable, data: dict[str, Any], seen: Snapshot, what: str) -> dict:
    return {
        "id": _derived_id(rec.id, what, seen.status, seen.partial_paid or "", seen.as_of),
        "type": event_type.value,
        "created_at": seen.as_of,
        "derived": True,
        "source": "poller",
        "user_id": rec.user_id,
        "data": data,
    }


@dataclass
class PollResult:
    seen: int
    recorded: list[StoredEvent]
    baseline: bool


class Poller:
    def __init__(self, inbox: EventInbox) -> None:
        self.inbox = inbox

    async def poll_once(self, client: Any) -> PollResult:
        """List every receivable (page by page) and record what changed since the last known state."""
        baseline = await self.inbox.meta(BASELINE_KEY) is None
        recorded: list[StoredEvent] = []
        seen = 0
        query = ListReceivablesQuery(limit=LIST_LIMIT_MAX)
        while True:
            page = await client.list_receivables(query)
            for rec in page.data:
                seen += 1
                snap = snapshot_of(rec)
                if baseline:
                    await self.inbox.save_snapshot(snap)
                    continue
                recorded += await self.inbox.observe(snap, lambda previous, now, rec=rec: derived_events(rec, previous, now))
            if not page.has_more or not page.data:
                break
            query = query.model_copy(update={"starting_after": page.data[-1].id})
        if baseline:
            await self.inbox.set_meta(BASELINE_KEY, str(time.time()))
        if recorded:
            logger.info("poller: %d change(s) recorded as derived events", len(recorded))
        return PollResult(seen=seen, recorded=recorded, baseline=baseline)
