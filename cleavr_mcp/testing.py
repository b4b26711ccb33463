"""Helpers for tests that drive the MCP server against the sandbox (used by this project's tests; usable by anyone
testing an assistant workflow on cleavr-mcp).

- `Human`: an elicitation callback that answers like a person and remembers what it was asked;
- `submission(...)`: a valid receivable for `submit_receivable`;
- `SandboxAdmin` / `embedded_admin(settings)`: the sandbox's test controls (start recovery, disputes, payments…) on
  an in-process app or a sandbox served over HTTP;
- `bound_socket()` / `running_app(app, sock)`: serve any ASGI app on an ephemeral loopback port in a thread (they
  live in `sandbox/server.py`, which serves the sandbox with them).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .sandbox.server import bound_socket, running_app  # noqa: F401 - the tests' helpers, served from here

if TYPE_CHECKING:
    from .config import Settings


@dataclass
class Human:
    """Answers elicitations like a person would, and remembers what they were asked.

    `content` is the accepted form (a dict, or a function of the requested schema); `action` may be "decline" or
    "cancel" instead.
    """

    action: str = "accept"
    content: dict[str, Any] | Callable[[dict], dict[str, Any]] = field(default_factory=lambda: {"confirm": True})
    asked: list[Any] = field(default_factory=list)

    async def __call__(self, context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        self.asked.append(params)
        if self.action != "accept":
            return ElicitResult(action=self.action)
        content = self.content(params.requested_schema) if callable(self.content) else self.content
        return ElicitResult(action="accept", content=content)


def submission(user_id: str, *, number: str | None = None, amount: str = "5000.00", age_days: int = 60,
               phone: str | None = "06 12 34 56 78", email: str | None = "marie.martin@debtor.example",
               siret: str | None = "73282932000074") -> dict[str, Any]:
    """A valid receivable (20 % VAT split to the cent); a fresh invoice number each call unless one is given."""
    number = number or f"INV-{uuid.uuid4().hex[:8]}"
    issue = date.today() - timedelta(days=age_days)
    total = Decimal(amount)
    before = (total / Decimal("1.2")).quantize(Decimal("0.01"))
    contact: dict[str, Any] = {"first_name": "Marie", "last_name": "Martin", "level": 0}
    if email:
        contact["email"] = email
    if phone:
        contact["phone"] = phone
    debtor: dict[str, Any] = {"company_name": "Debtor Corp", "company_type": "company", "contacts": [contact],
                              "address": {"line1": "456 Avenue des Champs", "city": "Lyon", "postal_code": "69000",
                                          "country": "FR"}}
    if siret:
        debtor["siret"] = siret
    return {
        "user_id": user_id,
        "invoice": {"numbers": [number], "issue_date": issue.isoformat(),
                    "due_date": (issue + timedelta(days=30)).isoformat(), "service_description": "Consulting services",
                    "amount": f"{total:.2f}", "amount_before_tax": f"{before:.2f}", "tax_amount": f"{total - before:.2f}",
                    "currency": "EUR"},
        "debtor": debtor,
        "metadata": {"platform_invoice_id": f"plat_{number}"},
    }


class SandboxAdmin:
    """The sandbox's test controls (Stripe test-clock style), on an in-process app or a sandbox served over HTTP."""

    def __init__(self, *, db_path, base_url: str | None = None, app: Any = None) -> None:
        import httpx2

        self.db_path = db_path
        if base_url is None:
            self.http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://admin.local")
        else:
            self.http = httpx2.AsyncClient(base_url=base_url)
        self.token: str | None = None

    async def headers(self) -> dict[str, str]:
        if self.token is None:
            from .sandbox.testing import sandbox_access_token, sandbox_credentials

            cid, secret = sandbox_credentials(self.db_path)
            self.token = (await sandbox_access_token(self.http, str(self.http.base_url), cid, secret))["access_token"]
        return {"Authorization": f"Bearer {self.token}", "Cleavr-Version": "2026-01-02"}

    async def post(self, path: str, body: dict | None = None, **headers: str) -> Any:
        from .cleavr import wire

        resp = await self.http.post(path, content=wire.dumps(body or {}),
                                    headers={**await self.headers(), "Content-Type": "application/json", **headers})
        assert resp.status_code < 300, resp.text
        return wire.loads(resp.content)

    async def get(self, path: str, **params: Any) -> Any:
        from .cleavr import wire

        resp = await self.http.get(path, params=params, headers=await self.headers())
        assert resp.status_code < 300, resp.text
        return wire.loads(resp.content)

    async def create_receivable(self, user_id: str, number: str = "INV-EVT-001", *, start: bool = True) -> str:
        # Straight to the API (no client normalisation), so the phone is already E.164.
        body = submission(user_id, number=number, phone="+33612345678")
        rec = await self.post("/v1/receivables", body, **{"Idempotency-Key": number})
        if start:
            await self.advance(rec["id"], "start_recovery")
        return rec["id"]

    async def advance(self, receivable_id: str, action: str, **body: Any) -> dict:
        return await self.post(f"/sandbox/receivables/{receivable_id}/advance", {"action": action, **body})

    async def receivable_count(self) -> int:
        return int((await self.get("/sandbox/stats"))["receivables"]["total"])

    async def aclose(self) -> None:
        await self.http.aclose()


def embedded_admin(settings: Settings) -> SandboxAdmin:
    """Controls on the same SQLite file as the MCP server's embedded sandbox."""
    from .sandbox import SandboxConfig, create_app

    config = SandboxConfig.from_settings(settings)
    return SandboxAdmin(db_path=config.db_path, app=create_app(config))


def demo_user(settings: Settings) -> str:
    """The embedded sandbox's seeded demo creditor (active)."""
    from .sandbox import SandboxConfig
    from .sandbox.testing import demo_user_id

    return demo_user_id(SandboxConfig.from_settings(settings).db_path)
