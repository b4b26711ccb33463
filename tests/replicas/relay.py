"""Hubs relaying events to each other over PostgreSQL NOTIFY, as each replica's lifespan starts them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio


@asynccontextmanager
async def relaying(hubs: Sequence) -> AsyncIterator[None]:
    """Every hub listening to the others' NOTIFYs (ready when entered); the listeners stop on exit."""
    for hub in hubs:
        hub.listening = anyio.Event()
    async with anyio.create_task_group() as tg:
        for hub in hubs:
            tg.start_soon(hub._listen_to_replicas, hub.database)
        with anyio.fail_after(10):
            for hub in hubs:
                await hub.listening.wait()
        yield
        tg.cancel_scope.cancel()
