"""The events hub of one MCP server: the inbox, who to tell when it changes, and the background workers.

Built once per server (`build_server`), before the MCP lifespan exists: the HTTP receiver route and the
resources use it directly, tools reach it through `state.extras["events"]`. `attached(state)` runs for each
lifespan (once per HTTP app, once per stdio/in-memory connection): it starts the poller and, when
`settings.webhook_port` is set, the loopback webhook listener.

Subscribers are told through the server's `SubscriptionBus` (2026-07-28 `subscriptions/listen`) and, for
2025-era sessions that sent `resources/subscribe`, through their session directly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, SubscriptionBus

from ..cleavr import wire
from .actions import status_after
from .endpoints import EndpointStore, signing_secrets
from .poller import Poller, PollResult
from .store import AckResult, EventInbox, Snapshot, StoredEvent

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from ..cleavr.webhooks import Event
    from ..config import Settings
    from ..server.state import AppState

logger = logging.getLogger("cleavr_mcp.events")

INBOX_FILENAME = "events.sqlite3"
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


class EventHub:
    def __init__(self, settings: Settings, bus: SubscriptionBus | None = None) -> None:
        self.settings = settings
        self.bus: SubscriptionBus = bus or InMemorySubscriptionBus()
        self.endpoints = EndpointStore.for_settings(settings)
        self._inbox: EventInbox | None = None
        self._legacy: dict[str, list[tuple[Any, Any]]] = {}  # uri -> 2025-era (connection, session)
        self._states: list[AppState] = []
        self._listener_running = False
        self.listener_port: int | None = None  # the port the webhook listener is bound to, once started
        self.poll_passes = 0

    # --- the inbox ------------------------------------------------------------------------------------------
    @property
    def inbox(self) -> EventInbox:
        """Opened on first use, so a server that never sees an event never creates the file."""
        if self._inbox is None:
            self._inbox = EventInbox(Path(self.settings.ensure_data_dir()) / INBOX_FILENAME)
        return self._inbox

    def close(self) -> None:
        if self._inbox is not None:
            self._inbox.close()
            self._inbox = None

    def secrets(self) -> list[str]:
        return signing_secrets(self.settings, self.endpoints)

    @property
    def state(self) -> AppState | None:
        """The state of an active lifespan (any: they all talk to the same Cleavr account)."""
        return self._states[-1] if self._states else None

    def record_webhook(self, event: Event, raw: bytes) -> StoredEvent | None:
        """Persist a verified event (None when its id was stored before). Also what it says about its receivable,
        so the poller does not announce the same change again."""
        envelope = wire.loads(raw)
        data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
        receivable_id = data.get("receivable_id") if isinstance(data.get("receivable_id"), str) else None
        user_id = data.get("user_id") if isinstance(data.get("user_id"), str) else None
        created_at = envelope.get("created_at") if isinstance(envelope.get("created_at"), str) else None
        return self.inbox.record(
            event_id=event.id, event_type=str(event.type), body=raw.decode(), source="webhook",
            receivable_id=receivable_id, user_id=user_id, created_at=created_at,
            snapshot=self._snapshot_after(str(event.type), data, receivable_id, created_at),
        )

    def _snapshot_after(self, event_type: str, data: dict[str, Any], receivable_id: str | None,
                        created_at: str | None) -> Snapshot | None:
        if receivable_id is None or created_at is None:
            return None
        known = self.inbox.snapshot(receivable_id)
        if event_type == "receivable.partial_payment":
            try:
                paid = f"{Decimal(str(data['paid_amount'])):.2f}"
            except (KeyError, ArithmeticError, ValueError):
                return None
            return Snapshot(receivable_id, known.status if known else "in_process", paid, created_at)
        status = status_after(event_type, data)
        if status is None:
            return None
        partial = known.partial_paid if known and status == "in_process" else None
        return Snapshot(receivable_id, status, partial, created_at)

    async def ack(self, event_ids: Iterable[str] = (), *, receivable_id: str | None = None,
                  note: str | None = None) -> AckResult:
        """Mark events handled, then tell subscribers of the unhandled list (and of the receivables concerned)."""
        result = self.inbox.ack(event_ids, receivable_id=receivable_id, note=note)
        if result.acknowledged:
            events = [e for e in (self.inbox.get(i) for i in result.acknowledged) if e is not None]
            await self.announce(events)
        return result

    # --- telling subscribers --------------------------------------------------------------------------------
    async def announce(self, events: Iterable[StoredEvent]) -> None:
        await self.publish(uris_for(events))

    async def publish(self, uris: Iterable[str]) -> None:
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
            for key, session in list(self._legacy.get(uri, ())):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # noqa: BLE001 - a closed connection: forget it
                    self.unsubscribe_legacy(uri, key)

    def subscribe_legacy(self, uri: str, key: Any, session: Any) -> None:
        """`key` identifies the client connection (sessions are per request); `session` sends the notification."""
        subscribers = self._legacy.setdefault(uri, [])
        if not any(k is key for k, _ in subscribers):
            subscribers.append((key, session))

    def unsubscribe_legacy(self, uri: str, key: Any) -> None:
        kept = [(k, s) for k, s in self._legacy.get(uri, []) if k is not key]
        if kept:
            self._legacy[uri] = kept
        else:
            self._legacy.pop(uri, None)

    # --- polling --------------------------------------------------------------------------------------------
    async def poll_once(self, state: AppState | None = None) -> PollResult:
        state = state or self.state
        if state is None:
            raise RuntimeError("no active server lifespan: nothing to poll with")
        result = await Poller(self.inbox).poll_once(state.client)
        self.poll_passes += 1
        if result.recorded:
            await self.announce(result.recorded)
        return result

    async def _poll_forever(self, state: AppState) -> None:
        interval = self.settings.poll_interval_seconds
        while True:
            # The first pass waits one interval: start-up never waits for the backend, and short sessions
            # (tests, one-off commands) never poll.
            await anyio.sleep(interval)
            try:
                await self.poll_once(state)
            except Exception as exc:  # noqa: BLE001 - keep polling; the next pass retries
                logger.warning("event poll failed: %s", type(exc).__name__)

    # --- lifespan ---------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def attached(self, state: AppState) -> AsyncIterator[EventHub]:
        state.extras["events"] = self
        self._states.append(state)
        try:
            async with anyio.create_task_group() as tg:
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
