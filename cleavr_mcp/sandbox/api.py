"""The /v1 endpoints of Cleavr Connect as the contract reads them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.responses import Response

from ..cleavr import wire
from ..cleavr.contract import (
    COMMISSION_TIERS,
    MAX_BATCH,
    MAX_EVIDENCE_BODY_BYTES,
    MAX_FILE_BYTES,
    MAX_MULTIPART_OVERHEAD_BYTES,
    ErrorCode,
    EventType,
    IdPrefix,
    Paths,
)
from ..cleavr.models import (
    BatchRequest,
    BatchResult,
    CancelRequest,
    CommissionQuote,
    CommissionQuoteRequest,
    CommissionRates,
    Contact,
    CreateUserRequest,
    ErrorBody,
    EvidenceRequest,
    Extraction,
    ListReceivablesQuery,
    MetadataUpdate,
    OnboardingStatusResponse,
    PartialPaymentDecision,
    Receivable,
    ReceivableCreate,
    ReceivableList,
    Requirements,
    User,
    WebhookCreate,
    WebhookEndpoint,
    WebhookEndpointList,
)
from ..cleavr.validation import compute_commission, days_since
from . import idempotency, ops
from .auth import ApiAuth, require_api
from .bodies import json_body, parse_json, read_body, validate
from .errors import ApiError, json_response
from .state import SandboxState
from .store import dump_doc, iso, load_doc, micros, new_id, today, utcnow

REQUEST_MODELS: list[type[BaseModel]] = []  # added to the OpenAPI components by app.py


def json_request(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the handler reads itself (wire JSON with Decimal money, strict model)."""
    REQUEST_MODELS.append(model)
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "Retry safely: the same key and body return the first answer (Idempotent-Replayed: true)",
}


def writes(model: type[BaseModel]) -> dict[str, Any]:
    return {**json_request(model), "parameters": [IDEMPOTENCY_PARAM]}


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}

router = APIRouter(dependencies=[Depends(require_api)], responses=ERRORS)


def _sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _base_url(request: Request) -> str:
    return _sandbox(request).config.public_base_url or str(request.base_url).rstrip("/")


# --- users ---------------------------------------------------------------------------------------------------------


@router.post(Paths.USERS, tags=["Users"], status_code=201, responses={201: {"model": User}}, openapi_extra=writes(CreateUserRequest))
async def create_user(request: Request, auth: ApiAuth) -> Response:
    body, data = await json_body(request, CreateUserRequest)
    base = _base_url(request)

    def operation(db) -> idempotency.Outcome:
        return 201, ops.create_user(db, body, utcnow(), base), None

    return idempotency.run(request, auth.client_id, data, operation)


@router.get(Paths.USER, tags=["Users"], responses={200: {"model": User}})
def get_user(request: Request, user_id: str) -> Response:
    with _sandbox(request).store.read() as db:
        return json_response(ops.load_user(db, user_id))


@router.get(Paths.ONBOARDING_STATUS, tags=["Users"], responses={200: {"model": OnboardingStatusResponse}})
def get_onboarding_status(request: Request, user_id: str) -> Response:
    with _sandbox(request).store.read() as db:
        return json_response(ops.onboarding_status(ops.load_user(db, user_id)))


@router.get(Paths.REQUIREMENTS, tags=["Users"], responses={200: {"model": Requirements}})
def get_requirements(request: Request, user_id: str) -> Response:
    with _sandbox(request).store.read() as db:
        return json_response(ops.requirements(ops.load_user(db, user_id)))


# --- receivables: submit -----------------------------------------------------------------------------------------


@router.post(Paths.RECEIVABLES, tags=["Receivables"], status_code=201, responses={201: {"model": Receivable}},
             openapi_extra=writes(ReceivableCreate))
async def create_receivable(request: Request, auth: ApiAuth) -> Response:
    body, data = await json_body(request, ReceivableCreate)

    def operation(db) -> idempotency.Outcome:
        doc = ops.create_receivable(db, body, utcnow())
        return 201, doc, doc["id"]

    return idempotency.run(request, auth.client_id, data, operation)


class _BatchEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receivables: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


@router.post(Paths.BATCH, tags=["Receivables"], responses={200: {"model": BatchResult}}, openapi_extra=writes(BatchRequest))
async def create_batch(request: Request, auth: ApiAuth) -> Response:
    data = parse_json(await read_body(request))
    envelope = validate(_BatchEnvelope, data)

    def operation(db) -> idempotency.Outcome:
        successful: list[dict] = []
        failed: list[dict] = []
        for index, item in enumerate(envelope.receivables):
            db.execute("SAVEPOINT item")
            try:
                body = validate(ReceivableCreate, item)
                doc = ops.create_receivable(db, body, utcnow())
            except ApiError as error:
                db.execute("ROLLBACK TO item")
                failed.append({"index": index, "error": error.code.value, "message": error.message,
                               "field": error.field})
            else:
                successful.append({"index": index, "id": doc["id"], "status": "created"})
            db.execute("RELEASE item")
        return 200, {"successful": successful, "failed": failed}, None

    return idempotency.run(request, auth.client_id, data, operation)


# --- receivables: OCR ----------------------------------------------------------------------------------------------

OCR_REQUEST = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "user_id"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The invoice PDF (≤ 20 MB)"},
                        "user_id": {"type": "string", "description": "usr_clv_…"},
                    },
                }
            }
        },
    },
    "parameters": [IDEMPOTENCY_PARAM],
}


_CLIENT_GONE = object()


async def _while_connected(request: Request, run, *args: Any, **kwargs: Any) -> Any:
    """`await run(...)`, cancelled as soon as the client disconnects (uvicorn does not cancel a handler then), so a
    PDF worker is killed rather than left burning CPU for nobody. _CLIENT_GONE when it was."""
    outcome: Any = _CLIENT_GONE
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            outcome = await run(*args, **kwargs)
        except Exception as exc:  # raised after the group, as itself (not inside an ExceptionGroup)
            error = exc
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return outcome


def _invalid_file(message: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_FILE, message, field="file")


@router.post(Paths.OCR, tags=["Receivables"], status_code=201, responses={201: {"model": Extraction}},
             openapi_extra=OCR_REQUEST)
async def extract_from_pdf(request: Request, auth: ApiAuth) -> Response:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "Send the PDF as multipart/form-data with the fields `file` (the PDF) and `user_id`.",
            field="file",
        )
    await read_body(request, MAX_FILE_BYTES + MAX_MULTIPART_OVERHEAD_BYTES)
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # starlette's MultiPartException and parser errors: the client's encoding is broken
        raise ApiError(ErrorCode.VALIDATION_ERROR, f"The multipart body could not be read: {exc}.") from None
    try:
        upload = form.get("file")
        user_id = form.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise ApiError(ErrorCode.VALIDATION_ERROR, "`user_id` is required (a form field).", field="user_id")
        if not isinstance(upload, UploadFile):
            raise ApiError(ErrorCode.VALIDATION_ERROR, "`file` is required: attach the invoice PDF as a file part.",
                           field="file")
        pdf = await upload.read()
    finally:
        await form.close()
    user_id = user_id.strip()
    with _sandbox(request).store.read() as db:
        ops.load_user(db, user_id, field="user_id")
    if not pdf:
        raise _invalid_file("The file is empty: attach the invoice PDF.")
    if len(pdf) > MAX_FILE_BYTES:
        raise _invalid_file(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: send a smaller PDF.")
    if b"%PDF-" not in pdf[:1024]:
        raise _invalid_file("The file is not a PDF (no %PDF- header): send the invoice as a PDF document.")
    try:
        from ..extraction import InvalidFile, extract_invoice  # heavy PDF libraries: imported on first use
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("cleavr_mcp.extraction"):
            raise ApiError(
                ErrorCode.NOT_IMPLEMENTED,
                "PDF extraction is not available in this sandbox build: submit the receivable as structured data.",
            ) from None
        raise
    from .. import limits

    try:
        result = await _while_connected(request, limits.run_limited, extract_invoice, pdf,
                                        limits=limits.PDF_EXTRACTION, preload=limits.PDF_PRELOAD)
    except InvalidFile as exc:
        raise _invalid_file(str(exc) or "The PDF could not be read.") from None
    except limits.LimitExceeded as exc:
        raise ApiError(ErrorCode.INVALID_FILE, f"Reading this PDF was stopped (EXTRACTION_TOO_EXPENSIVE): "
                       f"{exc.message} Send the PDF as exported by the invoicing software (a re-printed or scanned "
                       "copy can cost far more to read), or enter the invoice fields by hand.", field="file",
                       details={"reason": "EXTRACTION_TOO_EXPENSIVE", "limit": exc.which}) from None
    except limits.WorkerFailed:
        raise _invalid_file("The PDF could not be read: its reader crashed. Send the PDF exported by the invoicing "
                            "software, or enter the invoice fields by hand.") from None
    if result is _CLIENT_GONE:
        return Response(status_code=499)
    for path, value in _sandbox(request).faults.settings.ocr_answer_overrides.items():
        if path == "raw_text":
            result["raw_text"] = value
            continue
        section, key = path.split(".", 1)  # a test control: Cleavr's OCR answering something the PDF does not say
        result["data"].setdefault(section, {})[key] = value
    extraction_id = new_id(IdPrefix.EXTRACTION, 8)
    extraction = Extraction.model_validate({**result, "extraction_id": extraction_id})
    doc = load_doc(wire.dumps(extraction))
    fingerprint_data = {"user_id": user_id, "file_sha256": hashlib.sha256(pdf).hexdigest()}

    def operation(db) -> idempotency.Outcome:
        ops.load_user(db, user_id, field="user_id")
        db.execute(
            "INSERT INTO extractions (id, user_id, created_us, doc) VALUES (?, ?, ?, ?)",
            (extraction_id, user_id, micros(utcnow()), dump_doc({**doc, "user_id": user_id})),
        )
        return 201, doc, None

    return idempotency.run(request, auth.client_id, fingerprint_data, operation)


# --- receivables: read ---------------------------------------------------------------------------------------------


@router.get(Paths.RECEIVABLES, tags=["Receivables"], responses={200: {"model": ReceivableList}})
def list_receivables(request: Request, query: Annotated[ListReceivablesQuery, Query()]) -> Response:
    where: list[str] = []
    args: list[Any] = []
    if query.user_id:
        where.append("user_id = ?")
        args.append(query.user_id)
    if query.status:
        where.append("status = ?")
        args.append(query.status.value)
    if query.created_after:
        where.append("created_date >= ?")
        args.append(query.created_after.isoformat())
    if query.created_before:
        where.append("created_date <= ?")
        args.append(query.created_before.isoformat())
    with _sandbox(request).store.read() as db:
        if query.starting_after:
            cursor = db.execute(
                "SELECT created_us, id FROM receivables WHERE id = ?", (query.starting_after,)
            ).fetchone()
            if cursor is None:
                raise ApiError(
                    ErrorCode.VALIDATION_ERROR,
                    f"starting_after {query.starting_after!r} is not a known receivable: pass the id of the last "
                    "item of the previous page.",
                    field="starting_after",
                )
            where.append("(created_us < ? OR (created_us = ? AND id < ?))")
            args += [cursor["created_us"], cursor["created_us"], cursor["id"]]
        sql = "SELECT doc FROM receivables"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_us DESC, id DESC LIMIT ?"
        rows = db.execute(sql, (*args, query.limit + 1)).fetchall()
    data = [load_doc(r["doc"]) for r in rows[: query.limit]]
    return json_response({"data": data, "has_more": len(rows) > query.limit})


@router.get(Paths.RECEIVABLE, tags=["Receivables"], responses={200: {"model": Receivable}})
def get_receivable(request: Request, receivable_id: str) -> Response:
    with _sandbox(request).store.read() as db:
        return json_response(ops.load_receivable(db, receivable_id))


# --- receivables: update and lifecycle ------------------------------------------------------------------------------


def _change(request: Request, auth, data: Any, receivable_id: str, change) -> Response:
    """Load, change (may raise: nothing is written), save; all in one transaction."""

    def operation(db) -> idempotency.Outcome:
        now = utcnow()
        doc = ops.load_receivable(db, receivable_id)
        change(db, doc, now)
        ops.save_receivable(db, doc, now)
        return 200, doc, doc["id"]

    return idempotency.run(request, auth.client_id, data, operation)


@router.post(Paths.CONTACTS, tags=["Receivables"], responses={200: {"model": Receivable}}, openapi_extra=writes(Contact))
async def add_contact(request: Request, auth: ApiAuth, receivable_id: str) -> Response:
    contact, data = await json_body(request, Contact)
    return _change(request, auth, data, receivable_id, lambda db, doc, now: ops.add_contact(doc, contact))


@router.patch(Paths.RECEIVABLE, tags=["Receivables"], responses={200: {"model": Receivable}},
              openapi_extra=json_request(MetadataUpdate))
async def update_receivable(request: Request, auth: ApiAuth, receivable_id: str) -> Response:
    update, data = await json_body(request, MetadataUpdate)
    with _sandbox(request).store.write() as db:
        now = utcnow()
        doc = ops.load_receivable(db, receivable_id)
        ops.merge_metadata(doc, update.metadata)
        ops.save_receivable(db, doc, now)
    return json_response(doc)


@router.post(Paths.CANCEL, tags=["Receivables"], responses={200: {"model": Receivable}}, openapi_extra=writes(CancelRequest))
async def cancel_receivable(request: Request, auth: ApiAuth, receivable_id: str) -> Response:
    body, data = await json_body(request, CancelRequest)
    return _change(
        request, auth, data, receivable_id,
        lambda db, doc, now: ops.cancel(db, doc, body.reason.value, body.notes, now),
    )


@router.post(Paths.EVIDENCE, tags=["Receivables"], responses={200: {"model": Receivable}},
             openapi_extra=writes(EvidenceRequest))
async def submit_evidence(request: Request, auth: ApiAuth, receivable_id: str) -> Response:
    body, data = await json_body(request, EvidenceRequest, limit=MAX_EVIDENCE_BODY_BYTES)
    documents = []
    for i, document in enumerate(body.documents):
        field = f"documents[{i}].content_base64"
        try:
            content = base64.b64decode(document.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"documents[{i}].content_base64 is not valid base64: encode the file with standard base64.",
                field=field,
            ) from None
        if not content:
            raise ApiError(ErrorCode.INVALID_FILE, f"documents[{i}] is empty: attach the document's content.",
                           field=field)
        if len(content) > MAX_FILE_BYTES:
            raise ApiError(
                ErrorCode.INVALID_FILE,
                f"documents[{i}] is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: send a smaller file.",
                field=field,
            )
        documents.append({
            "type": document.type.value,
            "filename": document.filename,
            "description": document.description,
            "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        })
    return _change(
        request, auth, data, receivable_id,
        lambda db, doc, now: ops.submit_evidence(db, doc, documents, body.statement, now),
    )


@router.post(Paths.PARTIAL_PAYMENT, tags=["Receivables"], responses={200: {"model": Receivable}},
             openapi_extra=writes(PartialPaymentDecision))
async def decide_partial_payment(request: Request, auth: ApiAuth, receivable_id: str) -> Response:
    body, data = await json_body(request, PartialPaymentDecision)
    return _change(
        request, auth, data, receivable_id,
        lambda db, doc, now: ops.decide_partial_payment(db, doc, body.action.value, body.notes, now),
    )


# --- commission ----------------------------------------------------------------------------------------------------


@router.post(Paths.COMMISSION_CALCULATE, tags=["Commission"], responses={200: {"model": CommissionQuote}},
             openapi_extra=json_request(CommissionQuoteRequest))
async def calculate_commission(request: Request) -> Response:
    body, _ = await json_body(request, CommissionQuoteRequest)
    days = body.days_overdue if body.days_overdue is not None else days_since(body.invoice_date, today())
    return json_response(compute_commission(body.amount, days))


@router.get(Paths.COMMISSION_RATES, tags=["Commission"], responses={200: {"model": CommissionRates}})
def commission_rates() -> Response:
    return json_response({
        "default_rates": [{"days_from": lo, "days_to": hi, "rate": rate} for lo, hi, rate in COMMISSION_TIERS],
        "platform_custom_rate": {"enabled": False, "flat_rate": None, "volume_tiers": []},
    })


# --- webhooks ------------------------------------------------------------------------------------------------------

KNOWN_EVENTS = [e.value for e in EventType]


def _webhook_doc(row, with_secret: bool = False) -> dict[str, Any]:
    doc = {
        "id": row["id"],
        "url": row["url"],
        "events": load_doc(row["events"]),
        "description": row["description"],
        "created_at": row["created_at"],
    }
    if with_secret:
        doc["secret"] = row["secret"]
    return doc


@router.post(Paths.WEBHOOKS, tags=["Webhooks"], status_code=201, responses={201: {"model": WebhookEndpoint}},
             openapi_extra=writes(WebhookCreate))
async def create_webhook(request: Request, auth: ApiAuth) -> Response:
    body, data = await json_body(request, WebhookCreate)
    for i, pattern in enumerate(body.events):
        if not any(ops.event_matches(pattern, known) for known in KNOWN_EVENTS):
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"Unknown event type {pattern!r}: use one of {', '.join(KNOWN_EVENTS)} or a wildcard such as "
                "`receivable.*`.",
                field=f"events[{i}]",
            )

    def operation(db) -> idempotency.Outcome:
        now = utcnow()
        webhook_id = new_id(IdPrefix.WEBHOOK, 8)
        secret = f"{IdPrefix.WEBHOOK_SECRET}{secrets.token_hex(24)}"
        db.execute(
            "INSERT INTO webhooks (id, url, secret, events, description, created_at, created_us) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (webhook_id, body.url, secret, dump_doc(list(dict.fromkeys(body.events))), body.description, iso(now),
             micros(now)),
        )
        row = db.execute("SELECT * FROM webhooks WHERE id = ?", (webhook_id,)).fetchone()
        return 201, _webhook_doc(row, with_secret=True), None

    return idempotency.run(request, auth.client_id, data, operation)


@router.get(Paths.WEBHOOKS, tags=["Webhooks"], responses={200: {"model": WebhookEndpointList}})
def list_webhooks(request: Request) -> Response:
    with _sandbox(request).store.read() as db:
        rows = db.execute("SELECT * FROM webhooks WHERE deleted = 0 ORDER BY created_us, id").fetchall()
    return json_response({"data": [_webhook_doc(r) for r in rows]})


@router.delete(Paths.WEBHOOK, tags=["Webhooks"])
def delete_webhook(request: Request, webhook_id: str) -> Response:
    with _sandbox(request).store.write() as db:
        row = db.execute("SELECT id FROM webhooks WHERE id = ? AND deleted = 0", (webhook_id,)).fetchone()
        if row is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"No webhook endpoint `{webhook_id}`: list them with GET /v1/webhooks.")
        db.execute("UPDATE webhooks SET deleted = 1 WHERE id = ?", (webhook_id,))
        db.execute(
            "UPDATE deliveries SET status = 'cancelled' WHERE webhook_id = ? AND status = 'pending'", (webhook_id,)
        )
    return json_response({"id": webhook_id, "deleted": True})

