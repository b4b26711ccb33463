"""Live recovery events: signed webhooks in, an inbox in SQLite, a poller where no webhook can reach us, and the
subscribers (MCP resource subscriptions) told when something changed.

    hub = EventHub(settings)                    # one per MCP server (build_server)
    server = CleavrMCP(..., subscriptions=hub.bus); hub.install(server)
    async with hub.attached(state): ...         # per lifespan: poller, optional loopback listener

Names are loaded on first use: `events.cli` (argparse only) must stay importable without the server stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EventHub": "hub", "RECEIVABLE_URI": "hub", "UNHANDLED_URI": "hub", "receivable_uri": "hub",
    "EventInbox": "store", "Snapshot": "store", "StoredEvent": "store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
