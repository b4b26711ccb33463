"""Events raised for creditor a (a signed webhook, and a change the poller finds) reach A's subscribers only, in
both protocol eras (2026-07-28 `subscriptions/listen`, 2025-era `resources/subscribe`), over real HTTP.

B subscribes to the unhandled events and its own receivable; a second B client tries to subscribe to A's
receivable. Each A event is followed by a B event, so once B has heard of its own event, everything about A's would
have arrived before it (one bus, delivered in order): B must then have heard exactly its own updates, and none of
A's data is in any byte B received.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.types import ResourceUpdatedNotification

from cleavr_mcp.events.hub import UNHANDLED_URI, receivable_uri
from cleavr_mcp.testing import embedded_admin

from .world import CALLERS, ERAS, LOOKS, Recorder, World, connect, envelope, leaks, post_webhook, running_world

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy-events"), poll_events=True,
                       poll_interval_seconds=0.2) as w:
        yield w


@asynccontextmanager
async def subscriber(world: World, name: str, era: str, uris: list[str]) -> AsyncIterator[tuple[list[str], Recorder]]:
    """A client of principal `name` subscribed to `uris`; yields (the URIs it was told about, its bytes)."""
    heard: list[str] = []
    recorder = Recorder()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    kwargs = {"message_handler": on_message} if era == "legacy" else {}
    async with connect(world, CALLERS[name], era, recorder=recorder, **kwargs) as client:
        if era == "legacy":
            for uri in uris:
                try:
                    await client.subscribe_resource(uri)
                except MCPError:
                    pass  # refusing a foreign subscription is fine; telling about it is not
            yield heard, recorder
            return
        try:
            listening = client.listen(resource_subscriptions=uris)
            sub = await listening.__aenter__()
        except MCPError:
            yield heard, recorder  # refused as a whole: it can hear nothing
            return
        async with anyio.create_task_group() as tg:
            async def pump() -> None:
                async for event in sub:
                    heard.append(event.uri)

            tg.start_soon(pump)
            try:
                yield heard, recorder
            finally:
                tg.cancel_scope.cancel()
        await listening.__aexit__(None, None, None)


async def until(check, timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.02)


def poller_ready(world: World) -> bool:
    with sqlite3.connect(world.settings.data_dir / "server.sqlite3") as db:
        return db.execute("SELECT 1 FROM meta WHERE key = 'poller_baseline_at'").fetchone() is not None


@pytest.mark.parametrize("era", ERAS)
async def test_events_for_a_reach_a_only(world: World, era: str) -> None:
    a, b = world.creditors["a"], world.creditors["b"]
    a_uris = [receivable_uri(r) for r in (a.receivable_id, a.disputed_id, a.partial_id)]
    b_uris = [receivable_uri(r) for r in (b.receivable_id, b.disputed_id, b.partial_id)]
    # The poller's change, per era (each era moves receivables of its own: the world is shared).
    moves = {"auto": ("partial_id", "record_payment"), "legacy": ("disputed_id", "request_evidence")}
    field, action = moves[era]
    admin = embedded_admin(world.settings)
    try:
        async with subscriber(world, "A", era, [UNHANDLED_URI, *a_uris]) as (a_heard, _), \
                subscriber(world, "B", era, [UNHANDLED_URI, *b_uris]) as (b_heard, b_bytes), \
                subscriber(world, "B", era, a_uris) as (snoop_heard, snoop_bytes):
            await anyio.sleep(0.2)  # subscriptions registered (legacy subscribe answers first; listen acked)
            # 1. A webhook for a, then one for b (the barrier).
            for creditor, heard in ((a, a_heard), (b, b_heard)):
                body = envelope(f"evt_{creditor.key}wh{era}{len(heard)}", "payment.received",
                                receivable_id=creditor.receivable_id, amount=LOOKS[creditor.key].amount)
                assert post_webhook(world.base, body).status_code == 200
                await until(lambda c=creditor, h=heard: receivable_uri(c.receivable_id) in h)
            assert sorted(b_heard) == sorted([UNHANDLED_URI, b_uris[0]]), b_heard  # its own event, none of a's
            # 2. The poller finds a's receivable moved (the sandbox, as Cleavr's recovery would), then b's.
            await until(lambda: poller_ready(world))
            b_heard.clear()
            await admin.advance(getattr(a, field), action)
            await until(lambda: receivable_uri(getattr(a, field)) in a_heard)
            await admin.advance(getattr(b, field), action)
            await until(lambda: receivable_uri(getattr(b, field)) in b_heard)
            await anyio.sleep(0.5)  # two more polls: anything else on its way arrives
            assert sorted(b_heard) == sorted([UNHANDLED_URI, receivable_uri(getattr(b, field))]), b_heard
            assert snoop_heard == [], snoop_heard
        b_caller = CALLERS["B"]
        for recorder in (b_bytes, snoop_bytes):
            found = leaks(recorder, world.forbidden_markers(b_caller) | {LOOKS["a"].amount},
                          world.forbidden_ids(b_caller))
            assert not found, found
    finally:
        await admin.aclose()
