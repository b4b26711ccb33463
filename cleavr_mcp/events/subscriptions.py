"""2025-era `resources/subscribe` / `resources/unsubscribe`: MCPServer has no public hook for them, so they are
registered on the low-level server. Modern (2026-07-28) clients use `subscriptions/listen`, served by the SDK
from the bus the hub publishes to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .hub import EventHub


def _connection_of(session: Any) -> Any:
    # A ServerSession is built per request; the connection behind it is what identifies the subscriber. Its
    # notifications without a related request go out on the connection's standalone channel, so a session kept
    # from the subscribe request still delivers after that request ended.
    return getattr(session, "_connection", session)


def add_legacy_subscriptions(server: MCPServer, hub: EventHub) -> None:
    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        hub.subscribe_legacy(str(params.uri), _connection_of(ctx.session), ctx.session)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        hub.unsubscribe_legacy(str(params.uri), _connection_of(ctx.session))
        return EmptyResult()

    lowlevel = server._lowlevel_server  # the documented way in SDK 2.3 (no MCPServer-level hook)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
