"""MCP server tests: the real server on the embedded sandbox, driven by the SDK's in-memory client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import ElicitResult

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server

MODES = ["auto", "legacy"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs])


@pytest.fixture
def server(settings):
    return build_server(settings)


@dataclass
class Human:
    """Answers elicitations like a person would, and remembers what they were asked."""

    action: str = "accept"
    content: dict[str, Any] | Callable[[dict], dict[str, Any]] = field(default_factory=lambda: {"confirm": True})
    asked: list[Any] = field(default_factory=list)

    async def __call__(self, context, params) -> ElicitResult:
        self.asked.append(params)
        if self.action != "accept":
            return ElicitResult(action=self.action)
        content = self.content(params.requested_schema) if callable(self.content) else self.content
        return ElicitResult(action="accept", content=content)


def client(server, mode: str = "auto", human: Human | None = None) -> Client:
    kwargs: dict[str, Any] = {"mode": mode}
    if human is not None:
        kwargs["elicitation_callback"] = human
    return Client(server, **kwargs)


def submission(user_id: str, *, number: str = "INV-2025-001", amount: str = "5000.00", age_days: int = 60,
               phone: str | None = "06 12 34 56 78", email: str | None = "marie.martin@debtor.example",
               siret: str | None = "73282932000074") -> dict[str, Any]:
    issue = date.today() - timedelta(days=age_days)
    contact: dict[str, Any] = {"first_name": "Marie", "last_name": "Martin", "level": 0}
    if email:
        contact["email"] = email
    if phone:
        contact["phone"] = phone
    before = (lambda a: f"{a / 1.2:.2f}")(float(amount))
    tax = f"{float(amount) - float(before):.2f}"
    debtor: dict[str, Any] = {"company_name": "Debtor Corp", "company_type": "company", "contacts": [contact],
                              "address": {"line1": "456 Avenue des Champs", "city": "Lyon", "postal_code": "69000",
                                          "country": "FR"}}
    if siret:
        debtor["siret"] = siret
    return {
        "user_id": user_id,
        "invoice": {"numbers": [number], "issue_date": issue.isoformat(), "due_date": (issue + timedelta(days=30)).isoformat(),
                    "service_description": "Consulting services", "amount": amount, "amount_before_tax": before,
                    "tax_amount": tax, "currency": "EUR"},
        "debtor": debtor,
        "metadata": {"platform_invoice_id": f"plat_{number}"},
    }


class SandboxAdmin:
    """Sandbox-only helpers (Stripe test-clock style) on the same SQLite file as the server's embedded sandbox."""

    def __init__(self, settings: Settings) -> None:
        from cleavr_mcp.sandbox import SandboxConfig, create_app

        self.config = SandboxConfig.from_settings(settings)
        self.app = create_app(self.config)
        self.http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url="http://admin.local")
        self.token: str | None = None

    async def _auth(self) -> dict[str, str]:
        if self.token is None:
            from cleavr_mcp.cleavr.auth import authorize_with_code_flow
            from cleavr_mcp.cleavr.contract import ALL_SCOPES
            from cleavr_mcp.sandbox.testing import sandbox_credentials

            cid, secret = sandbox_credentials(self.config.db_path)
            resp = await authorize_with_code_flow(self.http, "http://admin.local", cid, secret, list(ALL_SCOPES))
            self.token = resp.access_token
        return {"Authorization": f"Bearer {self.token}", "Cleavr-Version": "2026-01-02"}

    async def post(self, path: str, body: dict | None = None) -> httpx2.Response:
        resp = await self.http.post(path, json=body or {}, headers=await self._auth())
        assert resp.status_code < 300, resp.text
        return resp

    async def get(self, path: str) -> Any:
        resp = await self.http.get(path, headers=await self._auth())
        assert resp.status_code < 300, resp.text
        return resp.json()

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def admin(settings):
    a = SandboxAdmin(settings)
    yield a
    await a.aclose()


def demo_user(settings: Settings) -> str:
    from cleavr_mcp.sandbox import SandboxConfig
    from cleavr_mcp.sandbox.testing import demo_user_id

    return demo_user_id(SandboxConfig.from_settings(settings).db_path)
