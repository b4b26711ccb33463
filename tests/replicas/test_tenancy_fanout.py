"""Across replicas sharing PostgreSQL, a subscriber still hears only its creditors' events (#15): the NOTIFY relaying
an event to the other replicas carries the event's creditor, and each replica's bus filters by it."""

from __future__ import annotations

import anyio
import pytest
from mcp.server.subscriptions import ResourceUpdated

from cleavr_mcp.config import Settings
from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.events.hub import UNHANDLED_URI, EventHub, receivable_uri

from .relay import relaying

pytestmark = pytest.mark.anyio

A = Principal(name="acme", user_ids=frozenset({"usr_clv_a"}), source="principals-file")
B = Principal(name="beta", user_ids=frozenset({"usr_clv_b"}), source="principals-file")


async def test_an_event_relayed_from_another_replica_reaches_only_its_creditors_subscribers(postgres_url, tmp_path):
    hubs = [EventHub(Settings(_env_file=None, data_dir=tmp_path / f"r{i}", database_url=postgres_url))
            for i in range(2)]
    heard: dict[str, list[str]] = {"A": [], "B": [], "everyone": []}

    def listener(who: str):
        return lambda event: heard[who].append(event.uri) if isinstance(event, ResourceUpdated) else None

    with acting_as(A):  # as the SDK's listen handler does, inside the subscribing request
        hubs[1].bus.subscribe(listener("A"))
    with acting_as(B):
        hubs[1].bus.subscribe(listener("B"))
    hubs[1].bus.subscribe(listener("everyone"))  # the local principal: every creditor
    async with relaying(hubs):
        for event_id, receivable_id, creditor in (("evt_fan_a", "rec_fan_a", "usr_clv_a"),
                                                  ("evt_fan_x", "rec_fan_x", None),  # owner unknown
                                                  ("evt_fan_b", "rec_fan_b", "usr_clv_b")):
            stored = await hubs[0].inbox.record(event_id=event_id, event_type="receivable.disputed", body="{}",
                                                source="webhook", receivable_id=receivable_id, user_id=creditor)
            await hubs[0].announce([stored])
        with anyio.fail_after(10):
            while len(heard["everyone"]) < 6 or not heard["B"]:
                await anyio.sleep(0.02)
        await anyio.sleep(0.2)
    assert heard["A"] == [UNHANDLED_URI, receivable_uri("rec_fan_a")]
    assert heard["B"] == [UNHANDLED_URI, receivable_uri("rec_fan_b")]
    assert len(heard["everyone"]) == 6 and receivable_uri("rec_fan_x") in heard["everyone"]
    for hub in hubs:
        await hub.close()
