"""Exactly once across replicas sharing one PostgreSQL: each "replica" here is a Database with a pool (and so
connections) of its own, and many tasks race on each rule. A real server (tests/pg.py), no mocks."""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
import pytest

from cleavr_mcp.events.store import EventInbox
from cleavr_mcp.storage import open_database
from cleavr_mcp.toolkit.confirm import ConfirmationError, ConfirmationTokens
from cleavr_mcp.toolkit.store import ServerStore

from .relay import relaying

pytestmark = pytest.mark.anyio

KEY = b"replicas-share-this-confirmation-key"
PAYLOAD = {"receivable": {"user_id": "usr_clv_1", "invoice": {"amount": "5000.00"}}}
REPLICAS = 4
RACERS = 32


@pytest.fixture
async def replicas(postgres_url):
    dbs = [open_database(postgres_url) for _ in range(REPLICAS)]
    for db in dbs:
        await db.open()  # all replicas start (and migrate) at once: serialised by the migration lock
    yield dbs
    for db in dbs:
        await db.close()


async def test_replicas_migrating_at_once_apply_each_migration_once(postgres_url):
    dbs = [open_database(postgres_url) for _ in range(6)]
    async with anyio.create_task_group() as tg:
        for db in dbs:
            tg.start_soon(db.open)
    applied = [v for db in dbs for v in db.applied_now]
    rows = await dbs[0].fetchall("SELECT version FROM schema_migrations")
    for db in dbs:
        await db.close()
    from cleavr_mcp.storage.migrations import LATEST

    assert sorted(applied) == sorted(r["version"] for r in rows) == list(range(1, LATEST + 1))


async def test_a_confirmation_token_is_redeemed_once_whichever_replica_sees_it(replicas):
    token, _ = ConfirmationTokens(KEY, ServerStore(replicas[0])).mint("submit_receivable", PAYLOAD)
    accepted, replayed = [], []

    async def redeem(i: int) -> None:
        tokens = ConfirmationTokens(KEY, ServerStore(replicas[i % REPLICAS]))
        try:
            await tokens.redeem("submit_receivable", PAYLOAD, token)
            accepted.append(i)
        except ConfirmationError as exc:
            replayed.append(exc.reason)

    async with anyio.create_task_group() as tg:
        for i in range(RACERS):
            tg.start_soon(redeem, i)
    assert len(accepted) == 1 and replayed == ["replayed"] * (RACERS - 1)
    row = await replicas[1].fetchone("SELECT COUNT(*) AS n FROM spent_confirmations")
    assert row["n"] == 1


async def test_a_webhook_delivered_to_every_replica_at_once_is_stored_once(replicas):
    body = '{"id": "evt_race0001", "type": "receivable.disputed", "data": {"receivable_id": "rec_1"}}'
    results = []

    async def deliver(i: int) -> None:
        stored = await EventInbox(replicas[i % REPLICAS]).record(
            event_id="evt_race0001", event_type="receivable.disputed", body=body, source="webhook",
            receivable_id="rec_1", created_at="2026-12-01T10:00:00Z")
        results.append(stored)

    async with anyio.create_task_group() as tg:
        for i in range(RACERS):
            tg.start_soon(deliver, i)
    assert sum(r is not None for r in results) == 1  # the others were told: a replay
    assert await EventInbox(replicas[2]).count() == 1


async def test_an_event_is_acknowledged_once_across_replicas(replicas):
    inbox = EventInbox(replicas[0])
    await inbox.record(event_id="evt_ack0001", event_type="payment.received", body="{}", source="webhook")
    results = []

    async def ack(i: int) -> None:
        results.append(await EventInbox(replicas[i % REPLICAS]).ack(["evt_ack0001"], note=f"replica {i}"))

    async with anyio.create_task_group() as tg:
        for i in range(RACERS):
            tg.start_soon(ack, i)
    assert sum(len(r.acknowledged) for r in results) == 1
    assert sum(len(r.already_handled) for r in results) == RACERS - 1


async def test_one_poller_leader_and_take_over_when_it_is_killed(postgres_url, replicas):
    """The lease is a session advisory lock: a SIGKILLed leader's session ends and another replica takes over at
    its next try (the hub tries once per poll interval)."""
    from cleavr_mcp.storage.postgres import lock_key

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import psycopg, sys, time\n"
         f"c = psycopg.connect({postgres_url!r}, autocommit=True)\n"
         f"assert c.execute('SELECT pg_try_advisory_lock(%s)', ({lock_key('poller')},)).fetchone()[0]\n"
         "print('leader', flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "leader"
        leaders = [db.leader("poller") for db in replicas]
        assert [await leader.acquire() for leader in leaders] == [False] * REPLICAS
        holder.kill()  # SIGKILL: no goodbye, PostgreSQL notices the dropped session
        holder.wait()
        deadline = time.monotonic() + 10
        won: list[bool] = []
        while time.monotonic() < deadline:
            won = [await leader.acquire() for leader in leaders]
            if any(won):
                break
            await anyio.sleep(0.05)
        assert won.count(True) == 1, won
        assert await leaders[won.index(True)].acquire() is True  # a held lease stays held
        for leader in leaders:
            await leader.release()
    finally:
        holder.kill()


async def test_a_subscriber_on_one_replica_hears_of_an_event_that_arrived_on_another(postgres_url, tmp_path):
    from mcp.server.subscriptions import ResourceUpdated

    from cleavr_mcp.config import Settings
    from cleavr_mcp.events.hub import UNHANDLED_URI, EventHub, receivable_uri

    hubs = [EventHub(Settings(_env_file=None, data_dir=tmp_path / f"r{i}", database_url=postgres_url))
            for i in range(3)]
    heard: dict[int, list[str]] = {i: [] for i in range(3)}
    for i, hub in enumerate(hubs):
        hub.bus.subscribe(lambda event, i=i: heard[i].append(event.uri) if isinstance(event, ResourceUpdated)
                          else None)
    async with relaying(hubs):
        stored = await hubs[0].inbox.record(event_id="evt_fanout01", event_type="receivable.disputed", body="{}",
                                            source="webhook", receivable_id="rec_fan")
        await hubs[0].announce([stored])
        expected = [UNHANDLED_URI, receivable_uri("rec_fan")]
        with anyio.fail_after(10):
            while not all(heard[i] == expected for i in range(3)):
                await anyio.sleep(0.02)
    assert heard == {0: expected, 1: expected, 2: expected}  # once each: A's own notify is not relayed back
    for hub in hubs:
        await hub.close()


async def test_an_approval_decision_is_taken_once_and_spent_once_across_replicas(replicas):
    from cleavr_mcp.server.approvals.model import PendingWrite, View
    from cleavr_mcp.server.approvals.store import ApprovalStore, id_digest

    now = time.time()
    await ApprovalStore(replicas[0]).insert(PendingWrite(
        id="apr_race", tool="submit_receivable", principal="token:abc", payload_sha256="h" * 64, payload={},
        view=View(title="Submit"), channel="link", state="pending", created_at=now, expires_at=now + 600))
    decided, spent = [], []

    async def click(i: int) -> None:  # two people (or two tabs) on two replicas
        decided.append(await ApprovalStore(replicas[i % REPLICAS]).decide(
            "apr_race", "approved" if i % 2 else "declined", {"confirm": bool(i % 2)}, time.time()))

    async def spend(i: int, decision: str) -> None:  # tool calls retried on every replica
        spent.append(await ApprovalStore(replicas[i % REPLICAS]).consume(id_digest("apr_race"), decision, time.time()))

    async with anyio.create_task_group() as tg:
        for i in range(RACERS):
            tg.start_soon(click, i)
    assert decided.count(True) == 1
    decision = (await ApprovalStore(replicas[1]).get("apr_race")).state
    assert decision in ("approved", "declined")
    async with anyio.create_task_group() as tg:
        for i in range(RACERS):
            tg.start_soon(spend, i, decision)
    assert spent.count(True) == 1
    assert (await ApprovalStore(replicas[3]).get("apr_race")).state == "used"
