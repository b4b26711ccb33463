"""Shared builders for the client tests: requests as an LLM would write them, and API-shaped responses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx2

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.models import ReceivableCreate

USER_ID = "usr_clv_a1b2c3d4e5f6"
VALID_SIRET = "73282932000074"
VALID_VAT = "FR44732829320"


def receivable_request(**overrides: Any) -> ReceivableCreate:
    body: dict[str, Any] = {
        "user_id": USER_ID,
        "invoice": {
            "numbers": ["INV-2025-001"],
            "issue_date": "2025-08-01",
            "due_date": "2025-08-31",
            "service_description": "Consulting services for Q3 2025",
            "amount": "5000.00",
            "amount_before_tax": "4166.67",
            "tax_amount": "833.33",
            "currency": "EUR",
        },
        "debtor": {
            "company_name": "Debtor Corp",
            "company_type": "company",
            "siret": VALID_SIRET,
            "contacts": [
                {"first_name": "Marie", "last_name": "Martin", "email": "marie.martin@debtorcorp.example",
                 "phone": "06 12 34 56 78", "level": 0},
            ],
        },
        "metadata": {"platform_invoice_id": "plat_inv_123"},
    }
    for dotted, value in overrides.items():
        target = body
        *parents, leaf = dotted.split("__")
        for p in parents:
            target = target[p]
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return ReceivableCreate.model_validate(body)


_DELETE = object()
DELETE = _DELETE


def receivable_json(rec_id: str = "rec_a1b2c3d4e5f6", **extra: Any) -> dict[str, Any]:
    return {
        "id": rec_id,
        "user_id": USER_ID,
        "status": "pending",
        "amount": Decimal("5000.00"),
        "currency": "EUR",
        "invoice": {
            "numbers": ["INV-2025-001"],
            "issue_date": date(2025, 8, 1),
            "due_date": date(2025, 8, 31),
            "amount": Decimal("5000.00"),
            "amount_before_tax": Decimal("4166.67"),
            "tax_amount": Decimal("833.33"),
            "currency": "EUR",
        },
        "debtor": {"company_name": "Debtor Corp", "contacts": [{"email": "marie.martin@debtorcorp.example"}]},
        "recovery_progress": {"emails_sent": 0, "calls_made": 0},
        "commission": {"rate": Decimal("15.90"), "amount": Decimal("795.00")},
        "created_at": "2025-09-01T10:00:00Z",
        "updated_at": "2025-09-01T10:00:00Z",
        "metadata": {},
        **extra,
    }


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(
        status, content=wire.dumps(payload), headers={"content-type": "application/json", **(headers or {})}
    )


def error_response(status: int, code: str, message: str = "refused", **extra: Any) -> httpx2.Response:
    headers = extra.pop("headers", None)
    return json_response(status, {"error": {"code": code, "message": message, **extra}}, headers)


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
