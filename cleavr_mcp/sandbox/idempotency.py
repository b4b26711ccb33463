"""`Idempotency-Key` on POSTs (contract §4.2 and the [decided] notes in contract.py).

The check, the work and the stored answer share one write transaction, and writes are serialised, so concurrent
requests with one key create exactly one object: the first does the work, the others find its stored answer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..cleavr import wire
from ..cleavr.contract import IDEMPOTENCY_HEADER, IDEMPOTENCY_TTL_SECONDS, IDEMPOTENT_REPLAYED_HEADER, ErrorCode
from .errors import JSON, ApiError
from .state import SandboxState

# What an operation returns: (HTTP status, payload, id of the receivable it created or None)
Outcome = tuple[int, Any, str | None]


def canonical(value: Any) -> Any:
    """A form where equal requests are equal: numbers by value (5000 == 5000.00), keys sorted later by json."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
        return {"#": format(number.normalize(), "f") if number else "0"}
    if isinstance(value, float):
        return {"#": format(Decimal(str(value)).normalize(), "f")}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return str(value)


def fingerprint(method: str, path: str, data: Any) -> str:
    text = json.dumps([method.upper(), path, canonical(data)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"The {IDEMPOTENCY_HEADER} header must be 1 to 255 printable ASCII characters (a UUID works well).",
            details={"header": IDEMPOTENCY_HEADER},
        )
    return key


def run(
    request: Request,
    client_id: str,
    data: Any,
    operation: Callable[[sqlite3.Connection], Outcome],
) -> Response:
    """Do `operation` once per (client, key); replay its 2xx answer for the same request, refuse a different one."""
    sandbox: SandboxState = request.app.state.sandbox
    key = idempotency_key(request)
    print_ = fingerprint(request.method, request.url.path, data)
    with sandbox.store.write() as db:
        if key is not None:
            db.execute("DELETE FROM idempotency WHERE created_at < ?", (time.time() - IDEMPOTENCY_TTL_SECONDS,))
            row = db.execute(
                "SELECT fingerprint, status, body, receivable_id FROM idempotency WHERE client_id = ? AND key = ?",
                (client_id, key),
            ).fetchone()
            if row is not None:
                if row["fingerprint"] == print_:
                    return Response(
                        bytes(row["body"]),
                        status_code=row["status"],
                        media_type=JSON,
                        headers={IDEMPOTENT_REPLAYED_HEADER: "true"},
                    )
                details: dict[str, Any] = {"header": IDEMPOTENCY_HEADER}
                if row["receivable_id"]:
                    details["receivable_id"] = row["receivable_id"]
                raise ApiError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    f"This {IDEMPOTENCY_HEADER} was already used for a different request: use a new key for a new "
                    "request, or resend exactly the same body to get the first answer again.",
                    details=details,
                )
        status, payload, receivable_id = operation(db)
        body = wire.dumps(payload)
        if key is not None and 200 <= status < 300:
            db.execute(
                "INSERT INTO idempotency (client_id, key, fingerprint, status, body, receivable_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (client_id, key, print_, status, body, receivable_id, time.time()),
            )
    sandbox.wake_delivery()
    return Response(body, status_code=status, media_type=JSON)
