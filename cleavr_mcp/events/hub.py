"""The events hub of one MCP server: the inbox, who to tell when it changes, and the background workers.

Built once per server (`build_server`), before the MCP lifespan exists: the HTTP receiver route and the
resources use it directly, tools reach it through `state.extras["events"]` (put there by the server).
`attached(state)` runs for each lifespan (once per HTTP app, once per stdio/in-memory connection): it starts the
poller and, when `settings.webhook_port` is set, the loopback webhook listener. The hub is handed the lifespan's
client and database (`Lifespan`), never the server's own types.

Subscribers are told through the server's `SubscriptionBus` (2026-07-28 `subscriptions/listen`) and, for
2025-era sessions that sent `resources/subscribe`, through their session directly.

Across replicas (a shared PostgreSQL state database): every change is also NOTIFYed on `EVENTS_CHANNEL`, and each
replica LISTENs and tells its own subscribers, so a subscriber on replica C hears of a webhook that reached A. Only
the replica holding the poller lease (`database.leader("poller")`, an advisory lock) polls; the others try to take
the lease each poll interval, so a dead leader is replaced within one interval.
"""

from __future__ import annotations

import json
import logging
import secrets as _secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from ..cleavr import wire
from ..storage import Database, Leader, database_for
from .actions import status_after
from .endpoints import EndpointStore, signing_secrets
from .poller import Poller, PollResult
from .store import AckResult, EventInbox, Snapshot, StoredEvent
from .subscriptions import PrincipalNow, ScopedSubscriptionBus, hears, now

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from ..cleavr.client import CleavrClient
    from ..cleavr.webhooks import Event
    from ..config import Settings

logger = logging.getLogger("cleavr_mcp.events")

EVENTS_CHANNEL = "cleavr_mcp_events"
POLLER_LEASE = "poller"
OWNER_RETRY_SECONDS = 300.0
UNHANDLED_URI = "cleavr://events/unhandled"
RECEIVABLE_URI = "cleavr://receivables/{receivable_id}"


def receivable_uri(receivable_id: str) -> str:
    return RECEIVABLE_URI.format(receivable_id=receivable_id)


def uris_for(events: Iterable[StoredEvent]) -> list[str]:
    uris = [UNHANDLED_URI]
    for event in events:
        if event.receivable_id:
            uris.append(receivable_uri(event.receivable_id))
    return list(dict.fromkeys(uris))


def uris_by_creditor(events: Iterable[StoredEvent]) -> dict[str | None, list[str]]:
    """The URIs to announce, per creditor of the events (None: creditor unknown)."""
    by_creditor: dict[str | None, list[StoredEvent]] = {}
    for event in events:
        by_creditor.setdefault(event.user_id, []).append(event)
    return {creditor: uris_for(group) for creditor, group in by_creditor.items()}


class Lifespan(Protocol):
    """What the hub uses of a lifespan's state (the server's AppState is one): the Cleavr client it polls and
    looks owners up with, and the state database its inbox lives in."""

    client: CleavrClient
    database: Database


class EventHub:
    def __init__(self, settings: Settings, bus: SubscriptionBus | None = None) -> None:
        self.settings = settings
        self.bus: SubscriptionBus = bus or ScopedSubscriptionBus()
        self.endpoints = EndpointStore.for_settings(settings)
        self._inbox: EventInbox | None = None
        self._own_db: Database | None = None  # only when used with no lifespan attached (tests, one-off commands)
        self.replica_id = _secrets.token_hex(8)  # tells our own NOTIFYs from other replicas'
        self.listening: anyio.Event | None = None  # set once other replicas' notifications are heard (or not needed)
        self.is_poll_leader = False
        self._leader: Leader | None = None
        self._legacy: dict[str, list[tuple[Any, Any, Any]]] = {}  # uri -> 2025-era (connection, session, principal)
        self._states: list[Lifespan] = []
        self._listener_running = False
        self.listener_port: int | None = None  # the port the webhook listener is bound to, once started
        self.poll_passes = 0
        # The server's cached owner lookup (receivable id → its creditor); None: ask the lifespan's client.
        self.lookup_owner: Callable[[str], Awaitable[str | None]] | None = None
        self._owner_misses: dict[str, float] = {}  # receivable id -> when its owner could not be found
        self.principal_now: PrincipalNow | None = None

    def follow_principals(self, principal_now: PrincipalNow) -> None:
        """Subscribers are told only what their principal may hear now (the server re-reads the principals file)."""
        self.principal_now = principal_now
        if isinstance(self.bus, ScopedSubscriptionBus):
            self.bus.principal_now = principal_now

    # --- the inbox ------------------------------------------------------------------------------------------
    @property
    def database(self) -> Database:
        """The state database of the active lifespan (shared with the audit log); else one of our own."""
        state = self.state
        if state is not None:
            return state.database
        if self._own_db is None:
            self._own_db = database_for(self.settings)
        return self._own_db

    @property
    def inbox(self) -> EventInbox:
        db = self.database
        if self._inbox is None or self._inbox.db is not db:
            self._inbox = EventInbox(db)
        return self._inbox

    async def close(self) -> None:
        self._inbox = None
        if self._own_db is not None:
            db, self._own_db = self._own_db, None
            await db.close()

    def secrets(self) -> list[str]:
        return signing_secrets(self.settings, self.endpoints)

    @property
    def state(self) -> Lifespan | None:
        """The state of an active lifespan (any: they all talk to the same Cleavr account)."""
        return self._states[-1] if self._states else None

    async def record_webhook(self, event: Event, raw: bytes) -> StoredEvent | None:
        """Persist a verified event (None when its id was stored before). Also what it says about its receivable,
        so the poller does not announce the same change again. Its creditor is the receivable's owner (a user
        event names its user); an owner that cannot be found now is filled in later (`fill_owners`)."""
        envelope = wire.loads(raw)
        data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
        receivable_id = data.get("receivable_id") if isinstance(data.get("receivable_id"), str) else None
        named = data.get("user_id") if isinstance(data.get("user_id"), str) else None
        user_id = (await self.owner_of(receivable_id) or named) if receivable_id else named
        created_at = envelope.get("created_at") if isinstance(envelope.get("created_at"), str) else None
        return await self.inbox.record(
            event_id=event.id, event_type=str(event.type), body=raw.decode(), source="webhook",
            receivable_id=receivable_id, user_id=user_id, created_at=created_at,
            snapshot=await self._snapshot_after(str(event.type), data, receivable_id, created_at, user_id),
        )

    # --- owners (each event's creditor) ---------------------------------------------------------------------
    async def owner_of(self, receivable_id: str) -> str | None:
        """The creditor owning a receivable: known to the inbox (the poller saw it), else asked of Cleavr through
        `lookup_owner` (set by the server to its cached lookup), else the active lifespan's client. None when it
        cannot be told now (no client, Cleavr unreachable, no such receivable)."""
        known = await self.inbox.known_owner(receivable_id)
        if known is not None:
            return known
        try:
            if self.lookup_owner is not None:
                return await self.lookup_owner(receivable_id)
            state = self.state
            if state is None:
                return None
            return (await state.client.get_receivable(receivable_id)).user_id
        except Exception as exc:  # noqa: BLE001 - stored without an owner: hidden from scoped callers, filled later
            logger.info("owner of %s not known now: %s", receivable_id, type(exc).__name__)
            return None

    async def fill_owners(self, limit: int = 20) -> int:
        """Give an owner to events stored without one (before owners were recorded, or Cleavr was unreachable):
        up to `limit` receivables per call. How many events got one."""
        filled = 0
        now = time.monotonic()
        for receivable_id in await self.inbox.unowned_receivables(limit + len(self._owner_misses)):
            if now - self._owner_misses.get(receivable_id, -OWNER_RETRY_SECONDS) < OWNER_RETRY_SECONDS:
                continue  # not found a moment ago: not asked again on every list
            owner = await self.owner_of(receivable_id)
            if owner is None:
                self._owner_misses[receivable_id] = now
                continue
            self._owner_misses.pop(receivable_id, None)
            filled += await self.inbox.set_owner(receivable_id, owner)
            limit -= 1
            if limit <= 0:
                break
        return filled

    async def _snapshot_after(self, event_type: str, data: dict[str, Any], receivable_id: str | None,
                        created_at: str | None, user_id: str | None = None) -> Snapshot | None:
        if receivable_id is None or created_at is None:
            return None
        known = await self.inbox.snapshot(receivable_id)
        if event_type == "receivable.partial_payment":
            try:
                paid = f"{Decimal(str(data['paid_amount'])):.2f}"
            except (KeyError, ArithmeticError, ValueError):
                return None
            return Snapshot(receivable_id, known.status if known else "in_process", paid, created_at, user_id)
        status = status_after(event_type, data)
        if status is None:
            return None
        partial = known.partial_paid if known and status == "in_process" else None
        return Snapshot(receivable_id, status, partial, created_at, user_id)

    async def ack(self, event_ids: Iterable[str] = (), *, receivable_id: str | None = None,
                  note: str | None = None) -> AckResult:
        """Mark events handled, then tell subscribers of the unhandled list (and of the receivables concerned)."""
        result = await self.inbox.ack(event_ids, receivable_id=receivable_id, note=note)
        if result.acknowledged:
            events = [e for e in [await self.inbox.get(i) for i in result.acknowledged] if e is not None]
            await self.announce(events)
        return result

    # --- telling subscribers --------------------------------------------------------------------------------
    async def announce(self, events: Iterable[StoredEvent]) -> None:
        """Tell the subscribers that may act for each event's creditor (and only them)."""
        for creditor, uris in uris_by_creditor(events).items():
            await self.publish(uris, creditor=creditor)

    async def publish(self, uris: Iterable[str], *, creditor: str | None = None) -> None:
        """Tell this replica's subscribers of `creditor` (None: unknown, told only to those acting for every
        creditor), then every other replica's (through the database)."""
        uris = list(uris)
        await self._publish_local(uris, creditor)
        db = self.database
        if db.shared and uris:
            try:
                await db.notify(EVENTS_CHANNEL, json.dumps({"from": self.replica_id, "uris": uris,
                                                            "creditor": creditor}))
            except Exception as exc:  # noqa: BLE001 - the event is stored; the others see it on their next read
                logger.warning("could not notify the other replicas: %s", type(exc).__name__)

    async def _publish_local(self, uris: Iterable[str], creditor: str | None) -> None:
        publish_for = getattr(self.bus, "publish_for", None)
        for uri in uris:
            if publish_for is not None:
                await publish_for(ResourceUpdated(uri=uri), creditor)
            elif creditor is None:  # a bus that cannot scope (given by the caller): only unscoped news
                await self.bus.publish(ResourceUpdated(uri=uri))
            for key, session, principal in list(self._legacy.get(uri, ())):
                if not hears(await now(self.principal_now, principal), creditor):
                    continue
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # noqa: BLE001 - a closed connection: forget it
                    self.unsubscribe_legacy(uri, key)

    def subscribe_legacy(self, uri: str, key: Any, session: Any, principal: Any = None) -> None:
        """`key` identifies the client connection (sessions are per request); `session` sends the notification;
        `principal` is who subscribed (None: every creditor)."""
        subscribers = self._legacy.setdefault(uri, [])
        if not any(k is key for k, _, _ in subscribers):
            subscribers.append((key, session, principal))

    def unsubscribe_legacy(self, uri: str, key: Any) -> None:
        kept = [(k, s, p) for k, s, p in self._legacy.get(uri, []) if k is not key]
        if kept:
            self._legacy[uri] = kept
        else:
            self._legacy.pop(uri, None)

    # --- polling --------------------------------------------------------------------------------------------
    async def poll_once(self, state: Lifespan | None = None) -> PollResult:
        state = state or self.state
        if state is None:
            raise RuntimeError("no active server lifespan: nothing to poll with")
        result = await Poller(self.inbox).poll_once(state.client)
        self.poll_passes += 1
        if result.recorded:
            await self.announce(result.recorded)
        return result

    async def _poll_forever(self, state: Lifespan) -> None:
        interval = self.settings.poll_interval_seconds
        leader = self._leader = state.database.leader(POLLER_LEASE)
        try:
            while True:
                # The first pass waits one interval: start-up never waits for the backend, and short sessions
                # (tests, one-off commands) never poll.
                await anyio.sleep(interval)
                try:
                    self.is_poll_leader = await leader.acquire()
                    if self.is_poll_leader:  # another replica holds the lease: it polls for everyone
                        await self.poll_once(state)
                except Exception as exc:  # noqa: BLE001 - keep polling; the next pass retries
                    logger.warning("event poll failed: %s", type(exc).__name__)
        finally:
            self.is_poll_leader = False
            with anyio.CancelScope(shield=True):
                await leader.release()

    async def _listen_to_replicas(self, database: Database) -> None:
        """Relay the other replicas' NOTIFYs to this replica's subscribers."""
        stream = database.listen(EVENTS_CHANNEL)
        assert self.listening is not None
        if stream is None:
            self.listening.set()
            return
        async for payload in stream:
            if payload is None:
                self.listening.set()
                continue
            try:
                message = json.loads(payload)
                if message.get("from") == self.replica_id:
                    continue
                creditor = message.get("creditor")
                await self._publish_local([str(u) for u in message.get("uris", [])],
                                          creditor if isinstance(creditor, str) else None)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the relay
                logger.warning("bad notification from another replica: %s", type(exc).__name__)

    # --- lifespan ---------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def attached(self, state: Lifespan) -> AsyncIterator[EventHub]:
        self._states.append(state)
        try:
            if self.listening is None or len(self._states) == 1:
                self.listening = anyio.Event()
            async with anyio.create_task_group() as tg:
                if state.database.shared and len(self._states) == 1:
                    tg.start_soon(self._listen_to_replicas, state.database)
                else:
                    self.listening.set()
                if self.settings.poll_events:
                    tg.start_soon(self._poll_forever, state)
                if self.settings.webhook_port is not None and not self._listener_running:
                    from .listener import serve_listener

                    self._listener_running = True
                    try:
                        self.listener_port = await tg.start(serve_listener, self, self.settings.webhook_host,
                                                            self.settings.webhook_port)
                    except OSError as exc:
                        self._listener_running = False
                        logger.error("webhook listener not started on %s:%s: %s", self.settings.webhook_host,
                                     self.settings.webhook_port, exc)
                try:
                    yield self
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._states.remove(state)
            if self.listener_port is not None and not self._states:
                self._listener_running = False
                self.listener_port = None

    # --- wiring into the MCP server ---------------------------------------------------------------------------
    def install(self, server: MCPServer) -> None:
        """The receiver route on the HTTP app, and the 2025-era `resources/subscribe` handlers."""
        from .receiver import mount
        from .subscriptions import add_legacy_subscriptions

        mount(server, self)
        add_legacy_subscriptions(server, self)
        server.event_hub = self  # type: ignore[attr-defined]  # for operators and tests: the hub of this server
