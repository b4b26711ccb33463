"""Fixtures for the sandbox tests: a fresh database per test, an in-process client, a token, the demo creditor."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.sandbox import SandboxConfig, create_app
from cleavr_mcp.sandbox.testing import api_headers, demo_user_id, sandbox_access_token, sandbox_credentials

BASE = "http://sandbox.test"

RECEIVABLE: dict[str, Any] = {
    "invoice": {
        "numbers": ["INV-2025-001"],
        "issue_date": "2025-08-01",
        "due_date": "2025-08-31",
        "service_description": "Consulting services for Q3 2025",
        "amount": "5000.00",
        "amount_before_tax": "4166.67",
        "tax_amount": "833.33",
        "currency": "EUR",
        "payment_terms": "Net 30",
    },
    "debtor": {
        "company_name": "Debtor Corp",
        "company_type": "company",
        "siret": "73282932000074",
        "vat_number": "FR44732829320",
        "address": {"line1": "456 Avenue des Champs", "city": "Lyon", "postal_code": "69000", "country": "FR"},
        "contacts": [
            {"first_name": "Marie", "last_name": "Martin", "email": "marie.martin@debtorcorp.example",
             "phone": "+33612345678", "job_title": "CFO", "level": 0},
        ],
    },
    "metadata": {"platform_invoice_id": "plat_inv_123"},
}


def receivable_body(user_id: str, number: str = "INV-2025-001", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(RECEIVABLE)
    body["user_id"] = user_id
    body["invoice"]["numbers"] = [number]
    for key, value in changes.items():
        body[key] = value
    return body


def as_wire(body: Any) -> bytes:
    return wire.dumps(body)


@dataclass
class Sandbox:
    """An in-process sandbox with an authorised client (all scopes)."""

    app: Any
    config: SandboxConfig
    http: httpx2.AsyncClient
    tokens: dict[str, Any]
    client_id: str
    client_secret: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return api_headers(self.tokens["access_token"])

    def error(self, response: httpx2.Response) -> dict[str, Any]:
        body = response.json()
        assert set(body) == {"error"}, body
        assert {"code", "message"} <= set(body["error"]), body
        return body["error"]

    async def post(self, path: str, body: Any = None, **headers: str) -> httpx2.Response:
        return await self.http.post(path, content=as_wire(body), headers={**self.headers, **headers})

    async def get(self, path: str, **params: Any) -> httpx2.Response:
        return await self.http.get(path, params=params, headers=self.headers)

    async def create(self, number: str = "INV-2025-001", **changes: Any) -> dict[str, Any]:
        response = await self.post("/v1/receivables", receivable_body(self.user_id, number, **changes))
        assert response.status_code == 201, response.text
        return response.json()

    async def advance(self, receivable_id: str, action: str, **params: Any) -> httpx2.Response:
        return await self.post(f"/sandbox/receivables/{receivable_id}/advance", {"action": action, **params})

    async def outbox(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.get("/sandbox/outbox", **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]


def make_config(tmp_path, **options: Any) -> SandboxConfig:
    options.setdefault("cleverinvo", False)
    return SandboxConfig(db_path=tmp_path / "sandbox.sqlite3", **options)


@pytest.fixture
def config(tmp_path) -> SandboxConfig:
    return make_config(tmp_path)


async def open_sandbox(config: SandboxConfig) -> Sandbox:
    app = create_app(config)
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE)
    client_id, client_secret = sandbox_credentials(config.db_path)
    tokens = await sandbox_access_token(http, BASE, client_id, client_secret)
    return Sandbox(app, config, http, tokens, client_id, client_secret, demo_user_id(config.db_path))


@pytest.fixture
async def sandbox(config) -> AsyncIterator[Sandbox]:
    box = await open_sandbox(config)
    try:
        yield box
    finally:
        await box.http.aclose()
        await box.app.state.sandbox.aclose()
        box.app.state.sandbox.close()
