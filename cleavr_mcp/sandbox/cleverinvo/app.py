"""The CleverInvo sandbox: a FastAPI sub-app faithful to docs/api/cleverinvo.md.

Mounted by the Cleavr sandbox under `/cleverinvo/api/v1`; its own routes are `/clients…` and `/invoices…`.
Bearer API keys (401), plan limits (403), `{"data": …}` envelopes, `{"error": "…"}` errors, paging/search/filters,
draft-only invoice edits, soft-deleted clients, totals computed from line items, real PDFs, and the
120 requests/minute/key limit (sliding window, 429 + Retry-After).

Sandbox extensions (not in the CleverInvo doc): `amountPaid` on invoices; `status` and `amountPaid` accepted in
`PUT /invoices/:id` while the invoice is a DRAFT (to build test data); `GET /clients/:id` still answers for a
soft-deleted client (with `isActive: false`) so invoices keep a readable client.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...cleavr import wire
from .pdf import render_invoice_pdf
from .store import Store, client_json, compute_lines, invoice_json, money, new_id, now_timestamp

STATUSES = ("DRAFT", "SENT", "VIEWED", "PAID", "PARTIALLY_PAID", "OVERDUE")
DEFAULT_PLAN: dict[str, Any] = {
    "name": "Business",
    "max_clients": 100,
    "max_invoices": 1000,
    "features": ("api", "pdf"),
}
SEARCH_MAX = 255
MAX_BODY_BYTES = 1024 * 1024
MAX_PAGE = 1_000_000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": message}, status, headers)


class SlidingWindowLimiter:
    """At most `limit` requests per key in any `period`-second window (the strictest reading of "per minute")."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a request; None if allowed, else the seconds to wait."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.period:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.period - now
            hits.append(now)
            return None


# --- request parsing -------------------------------------------------------------------------------------------
async def _body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(400, f"Request body too large (at most {MAX_BODY_BYTES} bytes)")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(400, f"Request body too large (at most {MAX_BODY_BYTES} bytes)")
    if not raw.strip():
        raise ApiError(400, "Request body must be a JSON object")
    try:
        body = wire.loads(bytes(raw))
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return body


def _int_param(request: Request, name: str, default: int, lo: int, hi: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ApiError(400, f"Invalid {name}: must be an integer {bound}")
    return value


def _search(request: Request) -> str | None:
    search = request.query_params.get("search")
    if search is None or not search.strip():
        return None
    if len(search) > SEARCH_MAX:
        raise ApiError(400, f"Invalid search: at most {SEARCH_MAX} characters")
    return search.strip()


def _like(text: str) -> str:
    return "%" + text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text_field(body: dict[str, Any], name: str, *, required: bool = False, max_len: int = 500) -> str | None:
    if name not in body or body[name] is None or (isinstance(body[name], str) and not body[name].strip()):
        if required:
            raise ApiError(400, f"Missing required field: {name}")
        return None
    value = body[name]
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid field: {name} must be a string")
    value = value.strip()
    if len(value) > max_len:
        raise ApiError(400, f"Invalid field: {name} must be at most {max_len} characters")
    return value


def _date_field(body: dict[str, Any], name: str, *, required: bool) -> date | None:
    if body.get(name) is None:
        if required:
            raise ApiError(400, f"Missing required field: {name}")
        return None
    try:
        return date.fromisoformat(str(body[name])[:10])
    except ValueError:
        raise ApiError(400, f"Invalid field: {name} must be a date (YYYY-MM-DD)") from None


def _number(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise ApiError(400, f"Invalid field: {name} must be a number")
    try:
        number = Decimal(str(value)) if isinstance(value, (int, float, str)) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ApiError(400, f"Invalid field: {name} must be a number") from None
    if not number.is_finite():
        raise ApiError(400, f"Invalid field: {name} must be a number")
    return number


def _line_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("lineItems")
    if items is None:
        raise ApiError(400, "Missing required field: lineItems")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "Invalid field: lineItems must be a non-empty array")
    if len(items) > 200:
        raise ApiError(400, "Invalid field: lineItems has more than 200 items")
    lines = []
    for i, item in enumerate(items):
        where = f"lineItems[{i}]"
        if not isinstance(item, dict):
            raise ApiError(400, f"Invalid field: {where} must be an object")
        description = _text_field(item, "description", max_len=1000)
        if description is None:
            raise ApiError(400, f"Missing required field: {where}.description")
        for field in ("quantity", "unitPrice"):
            if item.get(field) is None:
                raise ApiError(400, f"Missing required field: {where}.{field}")
        quantity = _number(item["quantity"], f"{where}.quantity")
        unit_price = _number(item["unitPrice"], f"{where}.unitPrice")
        tax_rate = _number(item.get("taxRate", 0) or 0, f"{where}.taxRate")
        if quantity <= 0:
            raise ApiError(400, f"Invalid field: {where}.quantity must be greater than 0")
        if unit_price < 0:
            raise ApiError(400, f"Invalid field: {where}.unitPrice must not be negative")
        if not 0 <= tax_rate <= 100:
            raise ApiError(400, f"Invalid field: {where}.taxRate must be between 0 and 100")
        if abs(quantity * unit_price) >= Decimal("1e12"):
            raise ApiError(400, f"Invalid field: {where} amount is too large")
        lines.append({"description": description, "quantity": quantity, "unit_price": unit_price, "tax_rate": tax_rate})
    return lines


def _currency(body: dict[str, Any], default: str | None) -> str | None:
    if body.get("currency") is None:
        return default
    value = body["currency"]
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise ApiError(400, "Invalid field: currency must be a 3-letter ISO code")
    return value.strip().upper()


def _validated_client_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if creating or "name" in body:
        fields["name"] = _text_field(body, "name", required=True, max_len=255)
    for name, column, max_len in (
        ("email", "email", 255), ("address", "address", 500), ("taxId", "tax_id", 100),
        ("phone", "phone", 50), ("notes", "notes", 5000),
    ):
        if creating or name in body:
            fields[column] = _text_field(body, name, max_len=max_len)
    if fields.get("email") and not EMAIL.match(fields["email"]):
        raise ApiError(400, "Invalid field: email is not a valid email address")
    return fields


INVOICE_SELECT = (
    "SELECT i.*, c.name AS client_name, c.email AS client_email FROM ci_invoices i "
    "JOIN ci_clients c ON c.id = i.client_id"
)


def create_cleverinvo_app(
    db_path: Path,
    *,
    seed: bool = True,
    rate_limit_per_minute: int = 120,
    rate_limit_period_seconds: float = 60.0,
    plan: dict[str, Any] | None = None,
    today: date | None = None,
) -> FastAPI:
    """The CleverInvo sandbox ASGI app. Opens (and seeds, once per database) at creation: no lifespan needed.

    `rate_limit_period_seconds` scales the window of `rate_limit_per_minute` (tests use e.g. 120 per 1.5 s).
    `plan` overrides `DEFAULT_PLAN` keys: `max_clients`, `max_invoices` (None = unlimited), `features`
    (`api` for any API access, `pdf` for PDF downloads), `name`.
    """
    store = Store(db_path, today=today)
    store.ensure_api_key()
    if seed:
        store.seed()
    plan_cfg = {**DEFAULT_PLAN, **(plan or {})}
    features = set(plan_cfg.get("features") or ())
    plan_name = plan_cfg.get("name", "Business")
    limiter = SlidingWindowLimiter(rate_limit_per_minute, rate_limit_period_seconds)

    app = FastAPI(title="CleverInvo sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.limiter = limiter
    app.state.plan = plan_cfg

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        return _error(500, "Internal server error")

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        """Auth, then the per-key rate limit, then the plan's API feature, before any route runs."""
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        account = store.account_of(key) if scheme.lower() == "bearer" and key.startswith("cinv_") else None
        if account is None:
            return _error(401, "Unauthorized: missing or invalid API key")
        request.state.account = account  # every route reads and writes this account's book only
        wait = limiter.hit(key)
        if wait is not None:
            return _error(429, "Too many requests: rate limit exceeded, retry later",
                          {"Retry-After": str(max(1, math.ceil(wait)))})
        if "api" not in features:
            return _error(403, f"API access is not available on the {plan_name} plan")
        try:
            return await call_next(request)
        except ApiError as exc:  # raised outside a route (never expected), keep the envelope
            return _error(exc.status, exc.message, exc.headers)

    # --- helpers ------------------------------------------------------------------------------------------------
    def account(request: Request) -> str:
        return request.state.account

    def page_of(rows_sql: str, count_sql: str, params: list[Any], request: Request, to_json) -> Response:
        page = _int_param(request, "page", 1, 1, MAX_PAGE)
        limit = _int_param(request, "limit", 20, 1, 100)
        total = store.one(count_sql, params)[0]
        rows = store.query(rows_sql + " LIMIT ? OFFSET ?", [*params, limit, (page - 1) * limit])
        return _json({
            "data": [to_json(r) for r in rows],
            "total": total,
            "page": page,
            "limit": limit,
            "totalPages": math.ceil(total / limit),
        })

    def client_row(request: Request, client_id: str, *, active_only: bool = True):
        # Another account's client is answered exactly as a missing one.
        row = store.one("SELECT * FROM ci_clients WHERE id = ? AND account = ?", (client_id, account(request)))
        if row is None or (active_only and not row["is_active"]):
            raise ApiError(404, "Client not found")
        return row

    def invoice_row(request: Request, invoice_id: str):
        row = store.one(INVOICE_SELECT + " WHERE i.id = ? AND i.account = ?", (invoice_id, account(request)))
        if row is None:
            raise ApiError(404, "Invoice not found")
        return row

    def full_invoice(request: Request, invoice_id: str) -> dict[str, Any]:
        return invoice_json(invoice_row(request, invoice_id), full=True, lines=store.line_items(invoice_id))

    def saved(request: Request, invoice_id: str) -> dict[str, Any]:
        row = invoice_row(request, invoice_id)
        return {"id": row["id"], "invoiceNumber": row["invoice_number"], "total": Decimal(row["total"]),
                "status": row["status"]}

    def check_limit(request: Request, count_sql: str, limit_key: str, what: str) -> None:
        """The plan is per account: `count_sql` counts with one parameter, the account."""
        limit = plan_cfg.get(limit_key)
        if limit is not None and store.one(count_sql, (account(request),))[0] >= limit:
            raise ApiError(403, f"Plan limit reached: the {plan_name} plan allows {limit} {what}")

    # --- clients ------------------------------------------------------------------------------------------------
    @app.get("/clients")
    async def list_clients(request: Request) -> Response:
        where, params = ["is_active = 1", "account = ?"], [account(request)]
        search = _search(request)
        if search:
            where.append("(casefold(name) LIKE ? ESCAPE '\\' OR casefold(coalesce(email, '')) LIKE ? ESCAPE '\\')")
            params += [_like(search)] * 2
        clause = " WHERE " + " AND ".join(where)
        return page_of(
            "SELECT * FROM ci_clients" + clause + " ORDER BY name COLLATE NOCASE, id",
            "SELECT count(*) FROM ci_clients" + clause, params, request, client_json,
        )

    @app.post("/clients")
    async def create_client(request: Request) -> Response:
        fields = _validated_client_fields(await _body(request), creating=True)
        check_limit(request, "SELECT count(*) FROM ci_clients WHERE is_active = 1 AND account = ?", "max_clients",
                    "clients")
        client_id, stamp = new_id(), now_timestamp()
        with store.tx() as conn:
            conn.execute(
                "INSERT INTO ci_clients VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (client_id, fields["name"], fields["email"], fields["address"], fields["tax_id"], fields["phone"],
                 fields["notes"], stamp, stamp, account(request)),
            )
        return _json({"data": client_json(client_row(request, client_id))}, 201)

    @app.get("/clients/{client_id}")
    async def get_client(client_id: str, request: Request) -> Response:
        return _json({"data": client_json(client_row(request, client_id, active_only=False))})

    @app.put("/clients/{client_id}")
    async def update_client(client_id: str, request: Request) -> Response:
        client_row(request, client_id)
        fields = _validated_client_fields(await _body(request), creating=False)
        if fields:
            sets = ", ".join(f"{column} = ?" for column in fields)
            with store.tx() as conn:
                conn.execute(f"UPDATE ci_clients SET {sets}, updated_at = ? WHERE id = ?",
                             [*fields.values(), now_timestamp(), client_id])
        return _json({"data": client_json(client_row(request, client_id))})

    @app.delete("/clients/{client_id}")
    async def delete_client(client_id: str, request: Request) -> Response:
        client_row(request, client_id)
        with store.tx() as conn:  # soft delete: a client with invoices can never be hard-deleted
            conn.execute("UPDATE ci_clients SET is_active = 0, updated_at = ? WHERE id = ?", (now_timestamp(), client_id))
        return Response(status_code=204)

    # --- invoices -----------------------------------------------------------------------------------------------
    @app.get("/invoices")
    async def list_invoices(request: Request) -> Response:
        where: list[str] = ["i.account = ?"]
        params: list[Any] = [account(request)]
        search = _search(request)
        if search:
            where.append(
                "(casefold(i.invoice_number) LIKE ? ESCAPE '\\' OR casefold(c.name) LIKE ? ESCAPE '\\' "
                "OR casefold(coalesce(c.email, '')) LIKE ? ESCAPE '\\')"
            )
            params += [_like(search)] * 3
        client_id = request.query_params.get("clientId")
        if client_id:
            where.append("i.client_id = ?")
            params.append(client_id)
        status = request.query_params.get("status")
        if status:
            if status.upper() not in STATUSES:
                raise ApiError(400, f"Invalid status: must be one of {', '.join(STATUSES)}")
            where.append("i.status = ?")
            params.append(status.upper())
        clause = " WHERE " + " AND ".join(where)
        return page_of(
            INVOICE_SELECT + clause + " ORDER BY i.issue_date DESC, i.invoice_number DESC",
            "SELECT count(*) FROM ci_invoices i JOIN ci_clients c ON c.id = i.client_id" + clause,
            params, request, invoice_json,
        )

    @app.post("/invoices")
    async def create_invoice(request: Request) -> Response:
        body = await _body(request)
        client_id = _text_field(body, "clientId", required=True, max_len=64)
        number = _text_field(body, "invoiceNumber", required=True, max_len=64)
        issue = _date_field(body, "issueDate", required=True)
        due = _date_field(body, "dueDate", required=True)
        lines, totals = compute_lines(_line_items(body))
        currency = _currency(body, "EUR")
        notes = _text_field(body, "notes", max_len=5000)
        terms = _text_field(body, "terms", max_len=5000)
        if due < issue:
            raise ApiError(400, "Invalid field: dueDate must be on or after issueDate")
        if store.one("SELECT 1 FROM ci_clients WHERE id = ? AND is_active = 1 AND account = ?",
                     (client_id, account(request))) is None:
            raise ApiError(400, "Invalid field: clientId does not match an active client")
        check_limit(request, "SELECT count(*) FROM ci_invoices WHERE account = ?", "max_invoices", "invoices")
        if store.one("SELECT 1 FROM ci_invoices WHERE invoice_number = ? AND account = ?", (number, account(request))):
            raise ApiError(400, f"Invalid field: invoiceNumber {number} already exists")
        invoice_id, stamp = new_id(), now_timestamp()
        with store.tx() as conn:
            store._insert_invoice(conn, {
                "id": invoice_id, "client_id": client_id, "invoice_number": number, "currency": currency,
                "issue_date": issue.isoformat(), "due_date": due.isoformat(), **totals,
                "amount_paid": Decimal("0.00"), "status": "DRAFT", "notes": notes, "terms": terms,
                "sent_via_email": 0, "sent_at": None, "paid_at": None, "created_at": stamp, "updated_at": stamp,
                "account": account(request),
            }, lines)
        return _json({"data": saved(request, invoice_id)}, 201)

    @app.get("/invoices/{invoice_id}")
    async def get_invoice(invoice_id: str, request: Request) -> Response:
        return _json({"data": full_invoice(request, invoice_id)})

    @app.put("/invoices/{invoice_id}")
    async def update_invoice(invoice_id: str, request: Request) -> Response:
        row = invoice_row(request, invoice_id)
        if row["status"] != "DRAFT":
            raise ApiError(400, f"Only DRAFT invoices can be edited: {row['invoice_number']} is {row['status']}")
        body = await _body(request)
        changes: dict[str, Any] = {}
        if "clientId" in body:
            client_id = _text_field(body, "clientId", required=True, max_len=64)
            if store.one("SELECT 1 FROM ci_clients WHERE id = ? AND is_active = 1 AND account = ?",
                     (client_id, account(request))) is None:
                raise ApiError(400, "Invalid field: clientId does not match an active client")
            changes["client_id"] = client_id
        if "invoiceNumber" in body:
            number = _text_field(body, "invoiceNumber", required=True, max_len=64)
            if store.one("SELECT 1 FROM ci_invoices WHERE invoice_number = ? AND id != ? AND account = ?",
                         (number, invoice_id, account(request))):
                raise ApiError(400, f"Invalid field: invoiceNumber {number} already exists")
            changes["invoice_number"] = number
        if "currency" in body:
            changes["currency"] = _currency(body, row["currency"])
        issue = _date_field(body, "issueDate", required=False) or date.fromisoformat(row["issue_date"])
        due = _date_field(body, "dueDate", required=False) or date.fromisoformat(row["due_date"])
        if due < issue:
            raise ApiError(400, "Invalid field: dueDate must be on or after issueDate")
        changes["issue_date"], changes["due_date"] = issue.isoformat(), due.isoformat()
        for name in ("notes", "terms"):
            if name in body:
                changes[name] = _text_field(body, name, max_len=5000)
        lines = None
        if "lineItems" in body:
            lines, totals = compute_lines(_line_items(body))
            changes.update(totals)
        total = changes.get("total", Decimal(row["total"]))
        stamp = now_timestamp()
        if body.get("status") is not None:  # sandbox extension
            status = str(body["status"]).upper()
            if status not in STATUSES:
                raise ApiError(400, f"Invalid field: status must be one of {', '.join(STATUSES)}")
            changes["status"] = status
            if status != "DRAFT":
                changes.update(sent_via_email=1, sent_at=stamp)
            if status == "PAID":
                changes.update(paid_at=stamp, amount_paid=total)
        if body.get("amountPaid") is not None:  # sandbox extension
            paid = money(_number(body["amountPaid"], "amountPaid"))
            if not 0 <= paid <= total:
                raise ApiError(400, "Invalid field: amountPaid must be between 0 and the invoice total")
            changes["amount_paid"] = paid
        changes["updated_at"] = stamp
        with store.tx() as conn:
            sets = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(f"UPDATE ci_invoices SET {sets} WHERE id = ?",
                         [*(str(v) if isinstance(v, Decimal) else v for v in changes.values()), invoice_id])
            if lines is not None:
                store._insert_lines(conn, invoice_id, lines)
        return _json({"data": saved(request, invoice_id)})

    @app.delete("/invoices/{invoice_id}")
    async def delete_invoice(invoice_id: str, request: Request) -> Response:
        invoice_row(request, invoice_id)
        with store.tx() as conn:  # the PDF is rendered on demand, so nothing else to remove
            conn.execute("DELETE FROM ci_line_items WHERE invoice_id = ?", (invoice_id,))
            conn.execute("DELETE FROM ci_invoices WHERE id = ?", (invoice_id,))
        return Response(status_code=204)

    @app.get("/invoices/{invoice_id}/pdf")
    async def invoice_pdf(invoice_id: str, request: Request) -> Response:
        if "pdf" not in features:
            raise ApiError(403, f"PDF download is not available on the {plan_name} plan")
        invoice = full_invoice(request, invoice_id)
        client = client_json(client_row(request, invoice["clientId"], active_only=False))
        pdf = render_invoice_pdf(invoice, client, store.issuer(account(request)))
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", invoice["invoiceNumber"]).strip("._") or invoice_id
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'})

    return app

