"""Webhook signatures and typed events (contract §6).

Verify first, on the raw bytes exactly as received, then parse: re-serialising parsed JSON changes the bytes and
breaks the HMAC. No timestamp is signed, so receivers de-duplicate on the event `id`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from pydantic import Field, ValidationError

from . import wire
from .contract import ErrorCode, EventType
from .errors import CleavrValidationError
from .models import Dispute, Money, Response


def sign(secret: str, raw_body: bytes) -> str:
    """The Cleavr-Signature value for `raw_body`: lowercase hex HMAC-SHA256 keyed with the webhook secret."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, raw_body: bytes, signature_header: str | None) -> bool:
    """True when `signature_header` is the HMAC of `raw_body`; constant-time; False when missing or malformed."""
    if not signature_header or not secret:
        return False
    received = signature_header.strip().lower()
    received = received.removeprefix("sha256=")  # tolerate the common "sha256=<hex>" form
    try:
        received_bytes = received.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(secret, raw_body).encode("ascii"), received_bytes)


# --- Event data ------------------------------------------------------------------------------------------------
class EventData(Response):
    """Data of an event type this client does not model specifically; every field is kept."""


class ReceivableEventData(EventData):
    receivable_id: str
    status: str | None = None


class StatusChangedEventData(EventData):
    receivable_id: str
    from_: str | None = Field(None, alias="from")
    to: str


class DisputeEventData(EventData):
    receivable_id: str
    dispute: Dispute


class EvidenceRequestedEventData(EventData):
    receivable_id: str
    evidence_requested: list[str] = Field(default_factory=list)
    dispute: Dispute | None = None


class PartialPaymentEventData(EventData):
    receivable_id: str
    original_amount: Money
    paid_amount: Money
    remaining_amount: Money
    action_required: str | None = None


class PaymentReceivedEventData(EventData):
    receivable_id: str
    amount: Money | None = None


class OnboardingCompletedEventData(EventData):
    user_id: str
    status: str | None = None


EVENT_DATA: dict[str, type[EventData]] = {
    EventType.USER_ONBOARDING_COMPLETED: OnboardingCompletedEventData,
    EventType.RECEIVABLE_CREATED: ReceivableEventData,
    EventType.PAYMENT_RECEIVED: PaymentReceivedEventData,
    EventType.RECEIVABLE_DISPUTED: DisputeEventData,
    EventType.RECEIVABLE_PARTIAL_PAYMENT: PartialPaymentEventData,
    EventType.RECEIVABLE_STATUS_CHANGED: StatusChangedEventData,
    EventType.RECEIVABLE_EVIDENCE_REQUESTED: EvidenceRequestedEventData,
    EventType.RECEIVABLE_RECOVERED: ReceivableEventData,
    EventType.RECEIVABLE_CANCELLED: ReceivableEventData,
}


class Event(Response):
    """A webhook event: `data` is the typed model for known types, `EventData` (all fields kept) otherwise."""

    id: str
    type: EventType | str
    created_at: datetime | None = None
    data: EventData

    @property
    def known(self) -> bool:
        return isinstance(self.type, EventType)


WebhookEvent = Event


def parse_event(raw_body: bytes) -> Event:
    """Parse a (verified) webhook body. Raises CleavrValidationError when it is not an event envelope."""
    try:
        body = wire.loads(raw_body, max_depth=wire.MAX_DEPTH)  # depth checked before parsing
    except wire.TooDeepError:
        raise CleavrValidationError(f"The webhook body nests deeper than {wire.MAX_DEPTH} levels.",
                                    code=ErrorCode.VALIDATION_ERROR) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CleavrValidationError("The webhook body is not JSON.", code=ErrorCode.VALIDATION_ERROR) from None
    if not isinstance(body, dict):
        raise CleavrValidationError("The webhook body is not a JSON object.", code=ErrorCode.VALIDATION_ERROR)
    # The Receivables guide's examples name the type "event"; the envelope in the docs calls it "type".
    kind = body.get("type", body.get("event"))
    if not isinstance(kind, str):
        raise CleavrValidationError("The webhook event has no type.", code=ErrorCode.VALIDATION_ERROR, field="type")
    try:
        event_type: EventType | str = EventType(kind)
    except ValueError:
        event_type = kind
    raw_data: Any = body.get("data") or {}
    data_model = EVENT_DATA.get(event_type, EventData)
    try:
        data = data_model.model_validate(raw_data)
        return Event.model_validate({**body, "type": event_type, "data": data})
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else "data"
        raise CleavrValidationError(
            f"The {kind} event does not have the expected shape ({where}: {exc.errors()[0]['msg']}).",
            code=ErrorCode.VALIDATION_ERROR, field=where,
        ) from None
