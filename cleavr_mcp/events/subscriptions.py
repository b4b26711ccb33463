"""2025-era `resources/subscribe` / `resources/unsubscribe`: MCPServer has no public hook for them, so they are
registered on the low-level server. Modern (2026-07-28) clients use `subscriptions/listen`, served by the SDK
from the bus the hub publishes to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .hub import EventHub


def add_legacy_subscriptions(server: MCPServer, hub: EventHub) -> None:
    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        hub.subscribe_legacy(str(params.uri), ctx.session)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        hub.unsubscribe_legacy(str(params.uri), ctx.session)
        return EmptyResult()

    lowlevel = server._lowlevel_server  # the documented way in SDK 2.3 (no MCPServer-level hook)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
