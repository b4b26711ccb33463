"""Sandbox-only test controls under /sandbox (like Stripe's test clocks). They need a valid access token (any scope)
and no Cleavr-Version; faults never apply to them."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..cleavr.contract import DisputeReason, DocumentType, ErrorCode, OnboardingStatus, ReceivableStatus
from ..cleavr.models import ErrorBody, PositiveMoney, Receivable, User
from . import ops
from .auth import TokenAuth, _hash, authenticate
from .bodies import parse_json, read_body, validate
from .errors import ApiError, json_response
from .state import FaultSettings, SandboxState
from .store import load_doc, utcnow
from .webhooks import deliver_pending, delivery_client

router = APIRouter(prefix="/sandbox", tags=["Sandbox controls"], dependencies=[Depends(authenticate)],
                   responses={c: {"model": ErrorBody} for c in (400, 401, 404, 409)})


def _sandbox(request: Request) -> SandboxState:
    return request.app.state.sandbox


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _body_doc(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    from .api import REQUEST_MODELS

    REQUEST_MODELS.append(model)
    return {"requestBody": {"required": required, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


async def _optional_body(request: Request, model: type[_Strict]) -> Any:
    raw = await read_body(request)
    return validate(model, parse_json(raw)) if raw.strip() else model()


# --- users -----------------------------------------------------------------------------------------------------------


class OnboardingOutcome(_Strict):
    status: OnboardingStatus = Field(
        OnboardingStatus.ACTIVE,
        description="active (default: emits user.onboarding.completed), in_review, rejected or pending_onboarding",
    )


@router.post("/users/{user_id}/complete-onboarding", responses={200: {"model": User}},
             openapi_extra=_body_doc(OnboardingOutcome, required=False))
async def complete_onboarding(request: Request, user_id: str, auth: TokenAuth) -> Response:
    body = await _optional_body(request, OnboardingOutcome)
    sandbox = _sandbox(request)
    with sandbox.store.write() as db:
        user = ops.set_onboarding_status(db, user_id, body.status, utcnow())
    sandbox.wake_delivery()
    return json_response(user)


# --- receivables -------------------------------------------------------------------------------------------------------


class Advance(_Strict):
    """Move a receivable as Cleavr's recovery would. Each action emits the documented events."""

    action: Literal[
        "start_recovery", "record_payment", "partial_payment", "dispute", "request_evidence", "confirm_recovery"
    ] = Field(description=(
        "start_recovery: pending→in_process; record_payment: in_process→payment_received (pays what remains); "
        "partial_payment: stays in_process, needs paid_amount, awaits the platform's decision; dispute: "
        "in_process→disputed; request_evidence: disputed→evidence_requested; confirm_recovery: "
        "payment_received→recovered"
    ))
    paid_amount: PositiveMoney | None = Field(None, description="partial_payment only: the amount the debtor paid")
    reason: DisputeReason = Field(DisputeReason.SERVICE_NOT_DELIVERED, description="dispute only")
    debtor_message: str | None = Field(None, max_length=5000, description="dispute only")
    evidence_requested: list[DocumentType] | None = Field(
        None, description="dispute / request_evidence: documents asked for (default delivery_confirmation, "
        "signed_contract)"
    )


@router.post("/receivables/{receivable_id}/advance", responses={200: {"model": Receivable}},
             openapi_extra=_body_doc(Advance))
async def advance(request: Request, receivable_id: str, auth: TokenAuth) -> Response:
    body = validate(Advance, parse_json(await read_body(request)))
    if body.action == "partial_payment" and body.paid_amount is None:
        raise ApiError(ErrorCode.VALIDATION_ERROR, "`paid_amount` is required for partial_payment.", field="paid_amount")
    evidence = [e.value for e in body.evidence_requested] if body.evidence_requested is not None else None
    sandbox = _sandbox(request)
    with sandbox.store.write() as db:
        now = utcnow()
        doc = ops.load_receivable(db, receivable_id)
        if body.action == "start_recovery":
            ops.start_recovery(db, doc, now)
        elif body.action == "record_payment":
            ops.record_payment(db, doc, now)
        elif body.action == "partial_payment":
            ops.partial_payment(db, doc, body.paid_amount, now)
        elif body.action == "dispute":
            default = [DocumentType.DELIVERY_CONFIRMATION.value, DocumentType.SIGNED_CONTRACT.value]
            ops.dispute(db, doc, body.reason.value, body.debtor_message, evidence or default, now)
        elif body.action == "request_evidence":
            ops.request_evidence(db, doc, evidence, now)
        else:
            ops.confirm_recovery(db, doc, now)
        ops.save_receivable(db, doc, now)
    sandbox.wake_delivery()
    return json_response(doc)


# --- outbox and stats ----------------------------------------------------------------------------------------------------


@router.get("/outbox", summary="Events written so far (oldest first), with their webhook deliveries")
def outbox(
    request: Request,
    type: Annotated[str | None, Query(description="exact type or wildcard, e.g. receivable.*")] = None,
    receivable_id: Annotated[str | None, Query()] = None,
    user_id: Annotated[str | None, Query()] = None,
    after: Annotated[str | None, Query(description="only events after this evt_ id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    where, args = [], []
    with _sandbox(request).store.read() as db:
        if after:
            row = db.execute("SELECT seq FROM events WHERE id = ?", (after,)).fetchone()
            if row is None:
                raise ApiError(ErrorCode.VALIDATION_ERROR, f"Unknown event id {after!r}.", field="after")
            where.append("seq > ?")
            args.append(row["seq"])
        if receivable_id:
            where.append("receivable_id = ?")
            args.append(receivable_id)
        if user_id:
            where.append("user_id = ?")
            args.append(user_id)
        sql = "SELECT id, type, body FROM events" + (" WHERE " + " AND ".join(where) if where else "")
        rows = db.execute(sql + " ORDER BY seq", args).fetchall()
        events = []
        for row in rows:
            if type and not ops.event_matches(type, row["type"]):
                continue
            event = load_doc(row["body"])
            event["deliveries"] = [
                dict(d) for d in db.execute(
                    "SELECT webhook_id, status, attempts, last_status, last_error, delivered_at FROM deliveries "
                    "WHERE event_id = ? ORDER BY webhook_id", (row["id"],)
                ).fetchall()
            ]
            events.append(event)
    has_more = len(events) > limit
    return json_response({"data": events[:limit], "has_more": has_more})


@router.get("/stats", summary="Counts of users, receivables by status, events, webhooks")
def stats(request: Request) -> Response:
    with _sandbox(request).store.read() as db:
        by_status = {s.value: 0 for s in ReceivableStatus}
        for row in db.execute("SELECT status, COUNT(*) AS n FROM receivables GROUP BY status"):
            by_status[row["status"]] = row["n"]
        users_by_status = {s.value: 0 for s in OnboardingStatus}
        for row in db.execute("SELECT status, COUNT(*) AS n FROM users GROUP BY status"):
            users_by_status[row["status"]] = row["n"]

        def count(sql: str) -> int:
            return db.execute(sql).fetchone()[0]

        result = {
            "users": {"total": sum(users_by_status.values()), "by_status": users_by_status},
            "receivables": {"total": sum(by_status.values()), "by_status": by_status},
            "events": count("SELECT COUNT(*) FROM events"),
            "webhooks": count("SELECT COUNT(*) FROM webhooks WHERE deleted = 0"),
            "deliveries": {
                row["status"]: row["n"]
                for row in db.execute("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
            },
            "extractions": count("SELECT COUNT(*) FROM extractions"),
            "idempotency_keys": count("SELECT COUNT(*) FROM idempotency"),
        }
    return json_response(result)


# --- faults and tokens ----------------------------------------------------------------------------------------------------


@router.get("/faults", response_model=FaultSettings)
def get_faults(request: Request) -> Response:
    return json_response(_sandbox(request).current_faults())


@router.put("/faults", response_model=FaultSettings, openapi_extra=_body_doc(FaultSettings, required=False))
async def put_faults(request: Request, auth: TokenAuth) -> Response:
    settings = await _optional_body(request, FaultSettings)
    return json_response(_sandbox(request).set_faults(settings))


class TokenSettings(_Strict):
    access_token_ttl_seconds: int = Field(ge=1, le=30 * 24 * 3600, description="TTL of access tokens issued from now")


@router.put("/tokens/settings", openapi_extra=_body_doc(TokenSettings))
async def put_token_settings(request: Request, auth: TokenAuth) -> Response:
    body = validate(TokenSettings, parse_json(await read_body(request)))
    _sandbox(request).access_token_ttl_seconds = body.access_token_ttl_seconds
    return json_response({"access_token_ttl_seconds": body.access_token_ttl_seconds})


class ExpireTokens(_Strict):
    access_token: str | None = Field(None, description="Expire this access token (default: the calling one)")
    refresh_token: str | None = Field(None, description="Also revoke this refresh token")
    all: bool = Field(False, description="Expire every access token")


@router.post("/tokens/expire", openapi_extra=_body_doc(ExpireTokens, required=False))
async def expire_tokens(request: Request, auth: TokenAuth) -> Response:
    body = await _optional_body(request, ExpireTokens)
    past = time.time() - 1
    with _sandbox(request).store.write() as db:
        if body.all:
            expired = db.execute("UPDATE access_tokens SET expires_at = ? WHERE expires_at > ?", (past, past)).rowcount
        else:
            target = _hash(body.access_token) if body.access_token else auth.token_hash
            expired = db.execute("UPDATE access_tokens SET expires_at = ? WHERE token_hash = ?", (past, target)).rowcount
        revoked = 0
        if body.refresh_token:
            revoked = db.execute(
                "UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?", (_hash(body.refresh_token),)
            ).rowcount
    return json_response({"expired_access_tokens": expired, "revoked_refresh_tokens": revoked})


# --- webhook delivery -------------------------------------------------------------------------------------------------------


class DeliverNow(_Strict):
    force: bool = Field(True, description="Send every pending delivery now, ignoring the backoff schedule")


@router.post("/webhooks/deliver", summary="Run one webhook delivery pass now",
             openapi_extra=_body_doc(DeliverNow, required=False))
async def deliver_now(request: Request, auth: TokenAuth) -> Response:
    body = await _optional_body(request, DeliverNow)
    sandbox = _sandbox(request)
    async with sandbox.get_delivery_lock():
        async with delivery_client() as http:
            counts = await deliver_pending(
                sandbox.store, http, retry_base_seconds=sandbox.config.webhook_retry_base_seconds, force=body.force
            )
    return json_response(counts)


# --- CleverInvo accounts ---------------------------------------------------------------------------------------------


class NewCleverInvoAccount(_Strict):
    label: str = Field(min_length=1, max_length=100, description="A name for the account (its PDFs' letterhead)")
    seed: bool = Field(False, description="Give it its own copy of the demo book (ids of its own); default empty")


@router.post("/cleverinvo/accounts", status_code=201, summary="Create another CleverInvo account, with its API key",
             openapi_extra=_body_doc(NewCleverInvoAccount))
async def create_cleverinvo_account(request: Request, auth: TokenAuth) -> Response:
    """As in CleverInvo, a key sees only its own account: another account's client and invoice ids answer 404."""
    body = validate(NewCleverInvoAccount, parse_json(await read_body(request)))
    cleverinvo = getattr(request.app.state, "cleverinvo", None)
    if not cleverinvo:
        raise ApiError(ErrorCode.NOT_FOUND, "The CleverInvo sandbox is not mounted (sandbox config cleverinvo=false).")
    account, key = cleverinvo["store"].create_account(body.label, seed=body.seed)
    return json_response({"account": account, "label": body.label, "api_key": key,
                          "base_path": cleverinvo["mount_path"]}, status=201)
