"""Live-event tests: signed webhooks, the inbox, the poller, the MCP surface (prompts, resources, subscriptions).

Everything runs for real: the sandbox (in-process or over HTTP with webhook delivery on), the MCP server
(in-memory or over HTTP), the receiver over a socket. Nothing is mocked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings
from cleavr_mcp.testing import (  # noqa: F401 - shared helpers, re-exported for the tests here
    Human,
    SandboxAdmin,
    bound_socket,
    demo_user,
    embedded_admin,
    running_app,
    submission,
)

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def settings(tmp_path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs], webhook_secret=SECRET)


def envelope(event_id: str = "evt_test0001", event_type: str = "receivable.disputed", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"receivable_id": "rec_test0001", **data}
    if event_type == "receivable.disputed" and "dispute" not in data:
        body["dispute"] = {"reason": "service_not_delivered", "debtor_message": "Never delivered.",
                           "evidence_requested": ["delivery_confirmation"]}
    return {"id": event_id, "type": event_type, "created_at": datetime.now(UTC).isoformat(), "data": body}


def signed(body: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else wire.dumps(body)
    return raw, {"Content-Type": "application/json", "Cleavr-Signature": sign(secret, raw)}


@asynccontextmanager
async def listening(hub) -> AsyncIterator[str]:
    """The stdio-mode webhook listener, on a free loopback port, in this event loop; yields its receiver URL."""
    from cleavr_mcp.events.listener import serve_listener

    async with anyio.create_task_group() as tg:
        port = await tg.start(serve_listener, hub, "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{port}/webhooks/cleavr"
        finally:
            tg.cancel_scope.cancel()


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `check` until it returns something truthy (the only waiting these tests do, bounded)."""
    with anyio.fail_after(timeout):
        while True:
            value = check()
            if hasattr(value, "__await__"):
                value = await value
            if value:
                return value
            await anyio.sleep(interval)
