"""Webhook signatures (raw bytes, constant time) and typed events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cleavr_mcp.cleavr import CleavrValidationError, parse_event, sign, verify_signature
from cleavr_mcp.cleavr.webhooks import (
    DisputeEventData,
    EventData,
    PartialPaymentEventData,
    StatusChangedEventData,
)

SECRET = "whsec_test_123"
BODY = (b'{"id":"evt_1","type":"receivable.partial_payment","created_at":"2025-09-01T10:00:00Z",'
        b'"data":{"receivable_id":"rec_1","original_amount":5000.00,"paid_amount":3000.00,'
        b'"remaining_amount":2000.00,"action_required":"platform_decision"}}')


def test_sign_is_lowercase_hex_hmac_sha256():
    import hashlib
    import hmac

    assert sign(SECRET, BODY) == hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_verify_accepts_exact_and_uppercase_and_rejects_everything_else():
    good = sign(SECRET, BODY)
    assert verify_signature(SECRET, BODY, good)
    assert verify_signature(SECRET, BODY, good.upper())
    assert verify_signature(SECRET, BODY, f" sha256={good} ")
    assert not verify_signature(SECRET, BODY, None)
    assert not verify_signature(SECRET, BODY, "")
    assert not verify_signature(SECRET, BODY + b" ", good)  # re-serialised bodies do not verify
    assert not verify_signature("whsec_other", BODY, good)
    assert not verify_signature(SECRET, BODY, good[:-1])
    assert not verify_signature(SECRET, BODY, "é" * 64)


def test_parse_partial_payment_is_typed_with_decimals():
    event = parse_event(BODY)
    assert event.id == "evt_1" and event.known
    assert isinstance(event.data, PartialPaymentEventData)
    assert event.data.remaining_amount == Decimal("2000.00")


def test_parse_dispute_status_change_and_unknown():
    dispute = parse_event(b'{"id":"evt_2","type":"receivable.disputed","created_at":"2025-09-01T10:00:00Z",'
                          b'"data":{"receivable_id":"rec_1","dispute":{"reason":"service_not_delivered",'
                          b'"evidence_requested":["delivery_confirmation"]}}}')
    assert isinstance(dispute.data, DisputeEventData)
    assert dispute.data.dispute.evidence_requested == ["delivery_confirmation"]
    changed = parse_event(b'{"id":"evt_3","type":"receivable.status_changed","created_at":"2025-09-01T10:00:00Z",'
                          b'"data":{"receivable_id":"rec_1","from":"pending","to":"in_process","extra":1}}')
    assert isinstance(changed.data, StatusChangedEventData)
    assert (changed.data.from_, changed.data.to, changed.data.model_extra) == ("pending", "in_process", {"extra": 1})
    unknown = parse_event(b'{"id":"evt_4","type":"report.ready","created_at":"2025-09-01T10:00:00Z",'
                          b'"data":{"report_id":"rep_1"}}')
    assert not unknown.known and type(unknown.data) is EventData
    assert unknown.data.model_extra == {"report_id": "rep_1"}


def test_guide_style_event_key_is_accepted():
    event = parse_event(b'{"id":"evt_5","event":"receivable.disputed","data":{"receivable_id":"rec_1",'
                        b'"dispute":{"reason":"other"}}}')
    assert isinstance(event.data, DisputeEventData)


@pytest.mark.parametrize("raw", [b"not json", b"[1,2]", b'{"id":"evt_1"}',
                                 b'{"id":"evt_1","type":"receivable.disputed","data":{}}'])
def test_malformed_events_raise_validation_error(raw):
    with pytest.raises(CleavrValidationError):
        parse_event(raw)
