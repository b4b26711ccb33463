"""The inbox on its own: ordering, filters, acknowledgement, twin status changes, snapshot ordering - on both state
backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.events.store import EventInbox, Snapshot
from cleavr_mcp.storage import open_database

pytestmark = pytest.mark.anyio


@pytest.fixture
async def inbox(database_url):
    box = EventInbox(open_database(database_url))
    yield box
    await box.close()


async def put(inbox: EventInbox, event_id: str, event_type: str, receivable_id: str = "rec_1", at: datetime | None = None,
        **data):
    created = (at or datetime.now(UTC)).isoformat()
    body = {"id": event_id, "type": event_type, "created_at": created, "data": {"receivable_id": receivable_id, **data}}
    return await inbox.record(event_id=event_id, event_type=event_type, body=wire.dumps(body).decode(), source="webhook",
                        receivable_id=receivable_id, created_at=created)


async def test_unhandled_first_then_newest_and_filters(inbox):
    await put(inbox, "evt_a", "payment.received", "rec_1")
    await put(inbox, "evt_b", "receivable.partial_payment", "rec_2", paid_amount="10.00")
    await put(inbox, "evt_c", "receivable.cancelled", "rec_3")
    await inbox.ack(["evt_c"])
    events, total = await inbox.list()
    assert [e.id for e in events] == ["evt_b", "evt_a", "evt_c"] and total == 3
    assert [e.id for e in (await inbox.list(types=["receivable.*"]))[0]] == ["evt_b", "evt_c"]
    assert [e.id for e in (await inbox.list(types=["payment.received", "receivable.cancelled"]))[0]] == ["evt_a", "evt_c"]
    assert [e.id for e in (await inbox.list(receivable_id="rec_2"))[0]] == ["evt_b"]
    assert [e.id for e in (await inbox.list(handled="unhandled"))[0]] == ["evt_b", "evt_a"]
    assert [e.id for e in (await inbox.list(handled="handled"))[0]] == ["evt_c"]
    assert (await inbox.list(types=["receivable_%"]))[1] == 0  # LIKE wildcards in a type are literal
    page, total = await inbox.list(limit=1)
    assert len(page) == 1 and total == 3


async def test_ack_by_ids_and_by_receivable(inbox):
    await put(inbox, "evt_a", "receivable.disputed", "rec_1", dispute={"reason": "other"})
    await put(inbox, "evt_b", "receivable.evidence_requested", "rec_1")
    await put(inbox, "evt_c", "payment.received", "rec_2")
    first = await inbox.ack(["evt_c", "evt_c", "evt_missing"], note="seen")
    assert (first.acknowledged, first.already_handled, first.unknown) == (["evt_c"], [], ["evt_missing"])
    assert (await inbox.ack(["evt_c"])).already_handled == ["evt_c"]
    by_receivable = await inbox.ack(receivable_id="rec_1", note="evidence sent")
    assert by_receivable.acknowledged == ["evt_a", "evt_b"]
    assert await inbox.count(handled="unhandled") == 0
    assert (await inbox.get("evt_a")).handled_note == "evidence sent"


async def test_status_change_twin_of_a_specific_event_is_filed_as_handled(inbox):
    at = datetime.now(UTC)
    await put(inbox, "evt_sc1", "receivable.status_changed", "rec_1", at=at, **{"from": "in_process", "to": "disputed"})
    await put(inbox, "evt_d1", "receivable.disputed", "rec_1", at=at, dispute={"reason": "other"})
    # The other order, and a status change with no specific twin (to in_process) that must stay unhandled.
    await put(inbox, "evt_p1", "payment.received", "rec_2", at=at)
    await put(inbox, "evt_sc2", "receivable.status_changed", "rec_2", at=at, **{"from": "in_process", "to": "payment_received"})
    await put(inbox, "evt_sc3", "receivable.status_changed", "rec_3", at=at, **{"from": "pending", "to": "in_process"})
    # Same receivable and status but hours apart: a different change, not a twin.
    await put(inbox, "evt_sc4", "receivable.status_changed", "rec_1", at=at + timedelta(hours=3),
        **{"from": "evidence_requested", "to": "disputed"})
    unhandled = {e.id for e in (await inbox.list(handled="unhandled"))[0]}
    assert unhandled == {"evt_d1", "evt_p1", "evt_sc3", "evt_sc4"}
    assert (await inbox.get("evt_sc1")).handled_note == "covered by the receivable.disputed event"
    assert (await inbox.get("evt_sc2")).handled_note == "covered by the payment.received event"


async def test_older_news_does_not_overwrite_a_newer_snapshot(inbox):
    now = datetime.now(UTC)
    await inbox.save_snapshot(Snapshot("rec_1", "in_process", None, now.isoformat()))
    await inbox.save_snapshot(Snapshot("rec_1", "disputed", None, (now - timedelta(minutes=5)).isoformat()))
    assert (await inbox.snapshot("rec_1")).status == "in_process"
    await inbox.save_snapshot(Snapshot("rec_1", "recovered", None, (now + timedelta(minutes=5)).isoformat()))
    assert (await inbox.snapshot("rec_1")).status == "recovered"


async def test_the_inbox_survives_a_restart_and_is_private(database_url, tmp_path):
    first = EventInbox(open_database(database_url))
    await put(first, "evt_keep", "payment.received")
    await first.close()
    again = EventInbox(open_database(database_url))
    assert await again.get("evt_keep") is not None and await again.count() == 1
    if again.path is not None:  # SQLite: the file is the user's own
        assert oct(again.path.stat().st_mode & 0o777) == "0o600"
    await again.close()
