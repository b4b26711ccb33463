"""Subscriptions, scoped to the subscriber's creditors.

- 2025-era `resources/subscribe` / `resources/unsubscribe`: MCPServer has no public hook for them, so they are
  registered on the low-level server. Modern (2026-07-28) clients use `subscriptions/listen`, served by the SDK
  from the bus the hub publishes to (`ScopedSubscriptionBus`).
- Each subscriber is kept with the principal of the request that subscribed, and told of an event only when that
  principal may act for the event's creditor (an event whose creditor is unknown: only principals acting for
  every creditor). So a subscriber never hears of another creditor's event, from a webhook or the poller.
- A principal acting for some creditors only that subscribes to another creditor's receivable (either era) gets
  exactly the refusal a receivable that does not exist gets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
from mcp.server.subscriptions import ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams
from mcp_types import INVALID_PARAMS

from ..domain.tenancy import Principal, current_principal

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .ports import SubscriptionHub

logger = logging.getLogger("cleavr_mcp.events")

_RECEIVABLE = re.compile(r"^cleavr://receivables/(rec_[A-Za-z0-9_]{1,64})$")


class _Everyone:
    def __repr__(self) -> str:
        return "EVERYONE"


EVERYONE: Any = _Everyone()  # an event about no creditor (the resource lists changed): every subscriber


def hears(principal: Principal | None, creditor: str | None | _Everyone) -> bool:
    """May a subscriber acting as `principal` be told of an event of `creditor`?"""
    if creditor is EVERYONE or principal is None or principal.every_creditor:
        return True
    return creditor is not None and principal.may_act_for(creditor)


# A subscriber's principal as the principals file says now: a stream outlives the request that subscribed, and a
# principal removed since (or a creditor taken from it) must hear no more of what it lost.
PrincipalNow = Callable[[Principal], Awaitable[Principal]]


async def now(principal_now: PrincipalNow | None, principal: Principal | None) -> Principal | None:
    if principal_now is None or principal is None:
        return principal
    return await principal_now(principal)


class ScopedSubscriptionBus:
    """The SDK's `SubscriptionBus`, in process, remembering the principal each listener subscribed as.

    `publish(event)` tells everyone (the SDK's own list-changed events); `publish_for(event, creditor)` only the
    listeners whose principal may act for `creditor`. Listeners are synchronous and must not raise (as the SDK's)."""

    def __init__(self) -> None:
        self._listeners: dict[object, tuple[Callable[[ServerEvent], None], Principal]] = {}
        self.principal_now: PrincipalNow | None = None  # set by the server (EventHub.follow_principals)

    async def publish(self, event: ServerEvent) -> None:
        await self.publish_for(event, EVERYONE)

    async def publish_for(self, event: ServerEvent, creditor: str | None | _Everyone) -> None:
        for listener, principal in list(self._listeners.values()):
            if not hears(await now(self.principal_now, principal), creditor):
                continue
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one bad listener must not starve the others
                logger.exception("subscription listener raised; continuing")
        await anyio.lowlevel.checkpoint()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        # Called by the SDK's listen handler, inside the subscribing request: its principal is the caller.
        token = object()
        self._listeners[token] = (listener, current_principal())

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe


async def refuse_foreign(hub: SubscriptionHub, uris: Iterable[str]) -> None:
    """For a principal acting for some creditors only: a receivable URI not of its creditors is refused exactly as
    one that does not exist (an unknown owner counts as not theirs)."""
    principal = current_principal()
    if principal.every_creditor:
        return
    for uri in uris:
        match = _RECEIVABLE.match(str(uri))
        if match is None:
            continue
        owner = await hub.owner_of(match.group(1))
        if owner is None or not principal.may_act_for(owner):
            raise MCPError(INVALID_PARAMS, f"No receivable {match.group(1)}.", data={"uri": str(uri)})


def _connection_of(session: Any) -> Any:
    # A ServerSession is built per request; the connection behind it is what identifies the subscriber. Its
    # notifications without a related request go out on the connection's standalone channel, so a session kept
    # from the subscribe request still delivers after that request ended.
    return getattr(session, "_connection", session)


def add_legacy_subscriptions(server: MCPServer, hub: SubscriptionHub) -> None:
    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        await refuse_foreign(hub, [str(params.uri)])
        hub.subscribe_legacy(str(params.uri), _connection_of(ctx.session), ctx.session, current_principal())
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        hub.unsubscribe_legacy(str(params.uri), _connection_of(ctx.session))
        return EmptyResult()

    lowlevel = server._lowlevel_server  # the documented way in SDK 2.3 (no MCPServer-level hook)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)

    # 2026-07-28 subscriptions/listen: the same refusal before the SDK's handler opens the stream.
    listen = lowlevel.get_request_handler("subscriptions/listen")
    if listen is not None:
        async def scoped_listen(ctx: Any, params: Any) -> Any:
            await refuse_foreign(hub, (params.notifications.resource_subscriptions or []))
            return await listen.handler(ctx, params)

        lowlevel.add_request_handler("subscriptions/listen", listen.params_type, scoped_listen)
