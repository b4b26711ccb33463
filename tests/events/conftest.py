"""Live-event tests: signed webhooks, the inbox, the poller, the MCP surface (prompts, resources, subscriptions).

Everything runs for real: the sandbox (in-process or over HTTP with webhook delivery on), the MCP server
(in-memory or over HTTP), the receiver over a socket. Nothing is mocked.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp.types import ElicitResult

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def settings(tmp_path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs], webhook_secret=SECRET)


@dataclass
class Human:
    """Answers elicitations like a person would, and remembers what they were asked."""

    action: str = "accept"
    content: dict[str, Any] = field(default_factory=lambda: {"confirm": True})
    asked: list[Any] = field(default_factory=list)

    async def __call__(self, context, params) -> ElicitResult:
        self.asked.append(params)
        if self.action != "accept":
            return ElicitResult(action=self.action)
        return ElicitResult(action="accept", content=self.content)


def submission(user_id: str, *, number: str = "INV-EVT-001", amount: str = "5000.00") -> dict[str, Any]:
    issue = date.today() - timedelta(days=60)
    return {
        "user_id": user_id,
        "invoice": {"numbers": [number], "issue_date": issue.isoformat(),
                    "due_date": (issue + timedelta(days=30)).isoformat(), "service_description": "Consulting",
                    "amount": amount, "amount_before_tax": f"{float(amount) / 1.2:.2f}",
                    "tax_amount": f"{float(amount) - round(float(amount) / 1.2, 2):.2f}", "currency": "EUR"},
        "debtor": {"company_name": "Debtor Corp", "company_type": "company", "siret": "73282932000074",
                   "address": {"line1": "456 Avenue des Champs", "city": "Lyon", "postal_code": "69000",
                               "country": "FR"},
                   "contacts": [{"first_name": "Marie", "last_name": "Martin", "email": "marie@debtor.example",
                                 "phone": "+33612345678", "level": 0}]},
    }


def envelope(event_id: str = "evt_test0001", event_type: str = "receivable.disputed", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"receivable_id": "rec_test0001", **data}
    if event_type == "receivable.disputed" and "dispute" not in data:
        body["dispute"] = {"reason": "service_not_delivered", "debtor_message": "Never delivered.",
                           "evidence_requested": ["delivery_confirmation"]}
    return {"id": event_id, "type": event_type, "created_at": datetime.now(UTC).isoformat(), "data": body}


def signed(body: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else wire.dumps(body)
    return raw, {"Content-Type": "application/json", "Cleavr-Signature": sign(secret, raw)}


class SandboxAdmin:
    """Sandbox test controls (Stripe test-clock style) on an in-process app or a sandbox served over HTTP."""

    def __init__(self, *, db_path, base_url: str | None = None, app: Any = None) -> None:
        self.db_path = db_path
        if base_url is None:
            self.http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://admin.local")
        else:
            self.http = httpx2.AsyncClient(base_url=base_url)
        self.token: str | None = None

    async def headers(self) -> dict[str, str]:
        if self.token is None:
            from cleavr_mcp.sandbox.testing import sandbox_access_token, sandbox_credentials

            cid, secret = sandbox_credentials(self.db_path)
            self.token = (await sandbox_access_token(self.http, str(self.http.base_url), cid, secret))["access_token"]
        return {"Authorization": f"Bearer {self.token}", "Cleavr-Version": "2026-01-02"}

    async def post(self, path: str, body: dict | None = None, **headers: str) -> Any:
        resp = await self.http.post(path, content=wire.dumps(body or {}),
                                    headers={**await self.headers(), "Content-Type": "application/json", **headers})
        assert resp.status_code < 300, resp.text
        return wire.loads(resp.content)

    async def get(self, path: str, **params: Any) -> Any:
        resp = await self.http.get(path, params=params, headers=await self.headers())
        assert resp.status_code < 300, resp.text
        return wire.loads(resp.content)

    async def create_receivable(self, user_id: str, number: str = "INV-EVT-001", *, start: bool = True) -> str:
        rec = await self.post("/v1/receivables", submission(user_id, number=number), **{"Idempotency-Key": number})
        if start:
            await self.advance(rec["id"], "start_recovery")
        return rec["id"]

    async def advance(self, receivable_id: str, action: str, **body: Any) -> dict:
        return await self.post(f"/sandbox/receivables/{receivable_id}/advance", {"action": action, **body})

    async def aclose(self) -> None:
        await self.http.aclose()


def embedded_admin(settings: Settings) -> SandboxAdmin:
    """Controls on the same SQLite file as the MCP server's embedded sandbox."""
    from cleavr_mcp.sandbox import SandboxConfig, create_app

    config = SandboxConfig.from_settings(settings)
    return SandboxAdmin(db_path=config.db_path, app=create_app(config))


def demo_user(settings: Settings) -> str:
    from cleavr_mcp.sandbox import SandboxConfig
    from cleavr_mcp.sandbox.testing import demo_user_id

    return demo_user_id(SandboxConfig.from_settings(settings).db_path)


def bound_socket(host: str = "127.0.0.1") -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock, sock.getsockname()[1]


@contextmanager
def running_app(app: Any, sock: socket.socket) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a bound socket in a background thread; yields its base URL."""
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
