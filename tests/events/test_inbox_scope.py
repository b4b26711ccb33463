"""The inbox scoped to a principal's creditors: lists, counts, acknowledgement, completions' receivable ids, and
the owners of events stored before owners were recorded (migration 3) - on both state backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.events.store import EventInbox, Snapshot
from cleavr_mcp.storage import migrations, open_database

pytestmark = pytest.mark.anyio

A = Principal(name="a", user_ids=frozenset({"usr_clv_a"}), source="principals-file")
B = Principal(name="b", user_ids=frozenset({"usr_clv_b"}), source="principals-file")
NOBODY = Principal(name="none", user_ids=frozenset(), source="jwt")


async def put(inbox: EventInbox, event_id: str, receivable_id: str | None, user_id: str | None,
              event_type: str = "payment.received", **data):
    created = datetime.now(UTC).isoformat()
    body = {"id": event_id, "type": event_type, "created_at": created,
            "data": {"receivable_id": receivable_id, **data}}
    return await inbox.record(event_id=event_id, event_type=event_type, body=wire.dumps(body).decode(),
                              source="webhook", receivable_id=receivable_id, user_id=user_id, created_at=created)


@pytest.fixture
async def inbox(database_url):
    box = EventInbox(open_database(database_url))
    await put(box, "evt_a1", "rec_a1", "usr_clv_a", debtor="Alpha Debtor SA")
    await put(box, "evt_a2", "rec_a2", "usr_clv_a")
    await put(box, "evt_b1", "rec_b1", "usr_clv_b")
    await put(box, "evt_x1", "rec_x1", None)  # owner unknown
    yield box
    await box.close()


async def test_each_principal_lists_and_counts_only_its_creditors_events(inbox):
    with acting_as(A):
        events, total = await inbox.list()
        assert {e.id for e in events} == {"evt_a1", "evt_a2"} and total == 2
        assert await inbox.count(handled="unhandled") == 2
        assert await inbox.receivable_ids() == ["rec_a2", "rec_a1"]
        assert (await inbox.list(receivable_id="rec_b1"))[1] == 0
        assert await inbox.get("evt_b1", creditors=A.user_ids) is None
    with acting_as(B):
        assert [e.id for e in (await inbox.list())[0]] == ["evt_b1"]
        assert await inbox.count() == 1
    with acting_as(NOBODY):
        assert await inbox.list() == ([], 0) and await inbox.receivable_ids() == []
    # Every creditor (LOCAL, the default): everything, the unowned event included.
    assert (await inbox.list())[1] == 4 and await inbox.count(handled="unhandled") == 4


async def test_another_creditors_event_is_acknowledged_as_an_unknown_one(inbox):
    with acting_as(B):
        result = await inbox.ack(["evt_a1", "evt_missing", "evt_b1"], note="b")
        assert (result.acknowledged, result.already_handled, result.unknown) == (["evt_b1"], [],
                                                                                 ["evt_a1", "evt_missing"])
        assert (await inbox.ack(receivable_id="rec_a1")).acknowledged == []
        assert (await inbox.ack(["evt_x1"])).unknown == ["evt_x1"]  # no owner known: not B's to touch
    assert (await inbox.get("evt_a1")).handled_at is None and (await inbox.get("evt_x1")).handled_at is None
    with acting_as(A):
        assert (await inbox.ack(receivable_id="rec_a1")).acknowledged == ["evt_a1"]
        assert await inbox.count(handled="unhandled") == 1


async def test_an_owner_found_later_makes_the_event_visible_to_its_creditor(inbox):
    assert await inbox.unowned_receivables() == ["rec_x1"]
    assert await inbox.known_owner("rec_x1") is None and await inbox.known_owner("rec_a1") == "usr_clv_a"
    assert await inbox.set_owner("rec_x1", "usr_clv_b") == 1
    assert await inbox.unowned_receivables() == []
    with acting_as(B):
        assert {e.id for e in (await inbox.list())[0]} == {"evt_b1", "evt_x1"}
    # A snapshot keeps the owner the poller saw; a later snapshot without one does not erase it.
    await inbox.save_snapshot(Snapshot("rec_new", "in_process", None, "2026-01-01T00:00:00+00:00", "usr_clv_a"))
    await inbox.save_snapshot(Snapshot("rec_new", "disputed", None, "2026-01-02T00:00:00+00:00"))
    assert (await inbox.snapshot("rec_new")).user_id == "usr_clv_a"
    assert await inbox.known_owner("rec_new") == "usr_clv_a"


async def test_migration_3_gives_old_events_the_owner_another_event_of_their_receivable_had(database_url,
                                                                                             monkeypatch):
    with monkeypatch.context() as m:  # a database as the previous release left it (migrations 1 and 2)
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        m.setattr(migrations, "LATEST", 2)
        old = open_database(database_url)
        for seq, (event_id, receivable_id, user_id) in enumerate(
                [("evt_1", "rec_1", None), ("evt_2", "rec_1", "usr_clv_a"), ("evt_3", "rec_2", None)]):
            await old.execute("INSERT INTO events (id, type, receivable_id, user_id, source, received_at, body) "
                              "VALUES (?, 'payment.received', ?, ?, 'webhook', ?, '{}')",
                              (event_id, receivable_id, user_id, float(seq)))
        await old.close()
    box = EventInbox(open_database(database_url))
    try:
        assert await box.count(creditors=frozenset({"usr_clv_a"})) == 2  # evt_1 filled from evt_2
        assert (await box.get("evt_3")).user_id is None
        with acting_as(A):
            assert [e.id for e in (await box.list())[0]] == ["evt_2", "evt_1"]
        assert await box.db.fetchone("SELECT MAX(version) AS v FROM schema_migrations") == {"v": migrations.LATEST}
    finally:
        await box.close()
