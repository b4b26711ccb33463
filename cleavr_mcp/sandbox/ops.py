"""The sandbox's business rules: users, receivables and their lifecycle, events. No HTTP here.

Every function takes an open write transaction (`Store.write()`), raises `ApiError` for anything the caller did wrong
(the transaction then rolls back: no partial writes), and emits the documented events into the outbox table.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ..cleavr import wire
from ..cleavr.contract import (
    ACTIVE_STATUSES,
    CANCELLABLE_STATUSES,
    CURRENCY,
    EVIDENCE_STATUSES,
    MISSING_PHONE_MESSAGE,
    TERMINAL_STATUSES,
    TRANSITIONS,
    ErrorCode,
    EventType,
    IdPrefix,
    OnboardingStatus,
    ReceivableStatus,
)
from ..cleavr.models import Contact, CreateUserRequest, Receivable, ReceivableCreate
from ..cleavr.validation import (
    compute_commission,
    days_since,
    is_e164,
    is_valid_fr_vat,
    is_valid_siret,
    to_money,
)
from .errors import ApiError
from .store import dump_doc, iso, load_doc, micros, new_id

RS = ReceivableStatus
MAX_CONTACTS = 10

# --- events ----------------------------------------------------------------------------------------------------


def event_matches(pattern: str, event_type: str) -> bool:
    """`receivable.*` matches `receivable.created`; `*` matches everything; otherwise exact."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def emit(
    db: sqlite3.Connection,
    event_type: EventType,
    data: dict[str, Any],
    now: datetime,
    *,
    receivable_id: str | None = None,
    user_id: str | None = None,
) -> str:
    """Write one event to the outbox, with a pending delivery for every webhook endpoint subscribed to it."""
    event_id = new_id(IdPrefix.EVENT, 12)
    envelope = {"id": event_id, "type": event_type.value, "created_at": iso(now), "data": data}
    db.execute(
        "INSERT INTO events (id, type, created_at, receivable_id, user_id, body) VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, event_type.value, iso(now), receivable_id, user_id, wire.dumps(envelope)),
    )
    for row in db.execute("SELECT id, events FROM webhooks WHERE deleted = 0").fetchall():
        if any(event_matches(p, event_type.value) for p in load_doc(row["events"])):
            db.execute(
                "INSERT INTO deliveries (event_id, webhook_id, next_attempt_at) VALUES (?, ?, ?)",
                (event_id, row["id"], now.timestamp()),
            )
    return event_id


# --- users -----------------------------------------------------------------------------------------------------

KYB_REQUIREMENTS = (
    ("representative.identity_document", "Identity document of the company's legal representative"),
    ("company.registration_extract", "Kbis extract (company registration) issued less than 3 months ago"),
    ("company.bank_account", "IBAN of the account that will receive recovered funds"),
    ("terms_of_service.acceptance", "Acceptance of the Cleavr terms of service and recovery mandate"),
)


def capabilities(status: str) -> dict[str, bool]:
    return {"send_receivables": status == OnboardingStatus.ACTIVE}


def requirements(user: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    status = user["status"]
    due = [{"code": c, "description": d} for c, d in KYB_REQUIREMENTS]
    company = user.get("company") or {}
    if not company.get("siret"):
        due.insert(0, {"code": "company.siret", "description": "SIRET number of the company (14 digits)"})
    if not company.get("address"):
        due.insert(1, {"code": "company.address", "description": "Registered office address"})
    if status == OnboardingStatus.PENDING_ONBOARDING:
        return {"currently_due": due, "pending_review": []}
    if status == OnboardingStatus.IN_REVIEW:
        return {"currently_due": [], "pending_review": due}
    if status == OnboardingStatus.REJECTED:
        return {
            "currently_due": [
                {"code": "kyb.rejected", "description": "Verification was rejected: contact Cleavr support to resume"}
            ],
            "pending_review": [],
        }
    return {"currently_due": [], "pending_review": []}


def load_user(db: sqlite3.Connection, user_id: str, field: str | None = None) -> dict[str, Any]:
    row = db.execute("SELECT doc FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        raise ApiError(
            ErrorCode.NOT_FOUND,
            f"No user `{user_id}`: check the id (it starts with `usr_clv_`) or create the user with POST /v1/users.",
            field=field,
        )
    return load_doc(row["doc"])


def save_user(db: sqlite3.Connection, user: dict[str, Any]) -> None:
    db.execute("UPDATE users SET status = ?, doc = ? WHERE id = ?", (user["status"], dump_doc(user), user["id"]))


def create_user(
    db: sqlite3.Connection,
    body: CreateUserRequest,
    now: datetime,
    onboarding_base: str,
    *,
    status: OnboardingStatus = OnboardingStatus.PENDING_ONBOARDING,
    user_id: str | None = None,
) -> dict[str, Any]:
    company = body.company
    if company is not None:
        if company.siret and not is_valid_siret(company.siret):
            raise ApiError(ErrorCode.INVALID_SIRET, _siret_message(company.siret), field="company.siret")
        if company.vat_number and not is_valid_fr_vat(company.vat_number):
            raise ApiError(ErrorCode.VALIDATION_ERROR, _vat_message(company.vat_number), field="company.vat_number")
    if body.contact is not None and body.contact.phone and not is_e164(body.contact.phone):
        raise ApiError(ErrorCode.VALIDATION_ERROR, _phone_message(body.contact.phone), field="contact.phone")
    email_norm = str(body.email).strip().lower()
    existing = db.execute("SELECT id FROM users WHERE email_norm = ?", (email_norm,)).fetchone()
    if existing:
        raise ApiError(
            ErrorCode.USER_EXISTS,
            f"A user with email {body.email} already exists ({existing['id']}): reuse it instead of creating another.",
            field="email",
            details={"existing_user_id": existing["id"]},
        )
    user_id = user_id or new_id(IdPrefix.USER, 8)
    token = new_id("obt_", 16)
    user = {
        "id": user_id,
        "email": str(body.email),
        "status": status.value,
        "onboarding_url": f"{onboarding_base.rstrip('/')}/onboarding/{user_id}?token={token}",
        "capabilities": capabilities(status),
        "created_at": iso(now),
        "company": company.model_dump(mode="python", exclude_none=True) if company else None,
        "contact": body.contact.model_dump(mode="python", exclude_none=True) if body.contact else None,
        "platform": body.platform.model_dump(mode="python", exclude_none=True) if body.platform else None,
    }
    db.execute(
        "INSERT INTO users (id, email_norm, status, onboarding_token, created_us, doc) VALUES (?, ?, ?, ?, ?, ?)",
        (user_id, email_norm, status.value, token, micros(now), dump_doc(user)),
    )
    return user


def set_onboarding_status(
    db: sqlite3.Connection, user_id: str, status: OnboardingStatus, now: datetime
) -> dict[str, Any]:
    user = load_user(db, user_id)
    if user["status"] == status:
        return user
    user["status"] = status.value
    user["capabilities"] = capabilities(status)
    save_user(db, user)
    if status == OnboardingStatus.ACTIVE:
        emit(
            db,
            EventType.USER_ONBOARDING_COMPLETED,
            {"user_id": user_id, "status": status.value, "capabilities": user["capabilities"]},
            now,
            user_id=user_id,
        )
    return user


def onboarding_status(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": user["id"],
        "status": user["status"],
        "capabilities": user["capabilities"],
        "onboarding_url": user["onboarding_url"],
    }


# --- receivables: submission -------------------------------------------------------------------------------------


def _siret_message(value: str) -> str:
    return (
        f"SIRET {value!r} is invalid: it must be 14 digits whose Luhn checksum holds. "
        "Check it on the invoice or on annuaire-entreprises.data.gouv.fr."
    )


def _vat_message(value: str) -> str:
    return f"VAT number {value!r} is invalid: expected FR + 2-character key + 9-digit SIREN, e.g. FR40303265045."


def _phone_message(value: str) -> str:
    return f"Phone {value!r} is not in E.164 form: write it with the country code, e.g. +33612345678."


def _check_contact(contact: Contact, field: str) -> None:
    if contact.phone is not None and not is_e164(contact.phone):
        raise ApiError(ErrorCode.VALIDATION_ERROR, _phone_message(contact.phone), field=f"{field}.phone")


def check_submission(db: sqlite3.Connection, body: ReceivableCreate) -> dict[str, Any]:
    """Every rule of contract §4.1, in the order a person would fix them. Returns the user."""
    user = load_user(db, body.user_id, field="user_id")
    if user["status"] != OnboardingStatus.ACTIVE:
        raise ApiError(
            ErrorCode.USER_NOT_ONBOARDED,
            f"User {user['id']} has not completed onboarding (status `{user['status']}`): send them to the "
            "onboarding_url to finish verification, then submit again.",
            field="user_id",
            details={"onboarding_url": user["onboarding_url"], "status": user["status"]},
        )
    if body.extraction_id is not None:
        row = db.execute("SELECT user_id FROM extractions WHERE id = ?", (body.extraction_id,)).fetchone()
        if row is None or row["user_id"] != body.user_id:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"No extraction `{body.extraction_id}` for user {body.user_id}: use the extraction_id returned by "
                "POST /v1/receivables/ocr for this user, or leave it out.",
                field="extraction_id",
            )
    invoice = body.invoice
    if invoice.currency != CURRENCY:
        raise ApiError(
            ErrorCode.INVALID_CURRENCY,
            f"Currency {invoice.currency!r} is not supported: only EUR is accepted. Convert the amounts to EUR.",
            field="invoice.currency",
            details={"currency": invoice.currency, "supported": [CURRENCY]},
        )
    if invoice.amount_before_tax is not None and invoice.tax_amount is not None:
        expected = invoice.amount_before_tax + invoice.tax_amount
        if expected != invoice.amount:
            raise ApiError(
                ErrorCode.AMOUNT_MISMATCH,
                f"invoice.amount ({invoice.amount}) must equal amount_before_tax + tax_amount "
                f"({invoice.amount_before_tax} + {invoice.tax_amount} = {expected}).",
                field="invoice.amount",
                details={
                    "amount": invoice.amount,
                    "amount_before_tax": invoice.amount_before_tax,
                    "tax_amount": invoice.tax_amount,
                    "expected_amount": expected,
                },
            )
    if invoice.due_date < invoice.issue_date:
        raise ApiError(
            ErrorCode.INVALID_DATES,
            f"invoice.due_date ({invoice.due_date}) is before invoice.issue_date ({invoice.issue_date}): "
            "the due date must be on or after the issue date.",
            field="invoice.due_date",
        )
    seen: set[str] = set()
    for i, number in enumerate(invoice.numbers):
        if number in seen:
            raise ApiError(
                ErrorCode.VALIDATION_ERROR,
                f"Invoice number {number!r} is listed twice: list each invoice once.",
                field=f"invoice.numbers[{i}]",
            )
        seen.add(number)
    debtor = body.debtor
    if debtor.siret and not is_valid_siret(debtor.siret):
        raise ApiError(ErrorCode.INVALID_SIRET, _siret_message(debtor.siret), field="debtor.siret")
    if debtor.vat_number and not is_valid_fr_vat(debtor.vat_number):
        raise ApiError(ErrorCode.VALIDATION_ERROR, _vat_message(debtor.vat_number), field="debtor.vat_number")
    for i, contact in enumerate(debtor.contacts):
        _check_contact(contact, f"debtor.contacts[{i}]")
    has_email = any(c.email for c in debtor.contacts)
    has_phone = any(c.phone for c in debtor.contacts)
    contact_details = {"debtor_name": debtor.company_name, "has_email": has_email, "has_phone": has_phone}
    if not has_email:
        raise ApiError(
            ErrorCode.MISSING_EMAIL_CONTACT,
            "At least one debtor contact with an email is required: add the debtor's email to a contact.",
            field="debtor.contacts[0].email",
            details=contact_details,
        )
    for i, number in enumerate(invoice.numbers):
        existing = db.execute(
            "SELECT r.id FROM invoice_numbers n JOIN receivables r ON r.id = n.receivable_id "
            f"WHERE n.user_id = ? AND n.number = ? AND r.status IN ({','.join('?' * len(ACTIVE_STATUSES))})",
            (body.user_id, number, *sorted(ACTIVE_STATUSES)),
        ).fetchone()
        if existing:
            raise ApiError(
                ErrorCode.DUPLICATE_RECEIVABLE,
                f"Invoice {number!r} is already on active receivable {existing['id']}: check its status instead of "
                "submitting again (use an Idempotency-Key to retry safely).",
                field=f"invoice.numbers[{i}]",
                details={"existing_receivable_id": existing["id"], "invoice_number": number},
            )
    if not has_phone and body.force_proceed is not True:
        raise ApiError(
            ErrorCode.MISSING_PHONE_WARNING,
            f"{MISSING_PHONE_MESSAGE} Ask the user: add a debtor phone number, or resend with "
            "force_proceed: true only if they agree to continue without one.",
            field="debtor.contacts[0].phone",
            details=contact_details,
        )
    return user


def create_receivable(db: sqlite3.Connection, body: ReceivableCreate, now: datetime) -> dict[str, Any]:
    check_submission(db, body)
    invoice = body.invoice.model_dump(mode="python")
    debtor = body.debtor.model_dump(mode="python")
    quote = compute_commission(body.invoice.amount, days_since(body.invoice.issue_date, now.date()))
    receivable_id = new_id(IdPrefix.RECEIVABLE, 10)
    doc: dict[str, Any] = {
        "id": receivable_id,
        "user_id": body.user_id,
        "status": RS.PENDING.value,
        "amount": body.invoice.amount,
        "currency": CURRENCY,
        "invoice": invoice,
        "debtor": debtor,
        "recovery_progress": {
            "emails_sent": 0,
            "calls_made": 0,
            "last_contact": None,
            "next_action": None,
            "next_action_date": None,
        },
        "commission": {"rate": quote["rate_percentage"], "amount": quote["commission_amount"]},
        "estimated_recovery_date": None,
        "dispute": None,
        "partial_payment": None,
        "cancellation": None,
        "evidence": [],
        "extraction_id": body.extraction_id,
        "force_proceed": bool(body.force_proceed),
        "created_at": iso(now),
        "updated_at": iso(now),
        "metadata": body.metadata,
    }
    Receivable.model_validate(doc)  # the stored shape is the documented response shape
    db.execute(
        "INSERT INTO receivables (id, user_id, status, created_us, created_date, doc) VALUES (?, ?, ?, ?, ?, ?)",
        (receivable_id, body.user_id, RS.PENDING.value, micros(now), now.date().isoformat(), dump_doc(doc)),
    )
    db.executemany(
        "INSERT INTO invoice_numbers (receivable_id, user_id, number) VALUES (?, ?, ?)",
        [(receivable_id, body.user_id, n) for n in body.invoice.numbers],
    )
    emit(
        db,
        EventType.RECEIVABLE_CREATED,
        {
            "receivable_id": receivable_id,
            "user_id": body.user_id,
            "status": RS.PENDING.value,
            "amount": body.invoice.amount,
            "currency": CURRENCY,
            "invoice_numbers": list(body.invoice.numbers),
        },
        now,
        receivable_id=receivable_id,
        user_id=body.user_id,
    )
    return load_doc(dump_doc(doc))  # the wire form, exactly as GET will return it


# --- receivables: reads ------------------------------------------------------------------------------------------


def load_receivable(db: sqlite3.Connection, receivable_id: str) -> dict[str, Any]:
    row = db.execute("SELECT doc FROM receivables WHERE id = ?", (receivable_id,)).fetchone()
    if row is None:
        raise ApiError(
            ErrorCode.NOT_FOUND,
            f"No receivable `{receivable_id}`: check the id (it starts with `rec_`) or list receivables with "
            "GET /v1/receivables.",
        )
    return load_doc(row["doc"])


def save_receivable(db: sqlite3.Connection, doc: dict[str, Any], now: datetime) -> None:
    doc["updated_at"] = iso(now)
    db.execute("UPDATE receivables SET status = ?, doc = ? WHERE id = ?", (doc["status"], dump_doc(doc), doc["id"]))


# --- lifecycle ---------------------------------------------------------------------------------------------------

# Every action that changes status: (statuses it is allowed from, status it leads to). Together they cover exactly
# the edges of contract.TRANSITIONS (a test checks this).
PUBLIC_ACTIONS: dict[str, tuple[frozenset[RS], RS | None]] = {
    "cancel": (CANCELLABLE_STATUSES, RS.CANCELLED),
    "submit_evidence": (EVIDENCE_STATUSES, RS.IN_PROCESS),
    "partial_payment_decision": (frozenset({RS.IN_PROCESS}), None),
}
SANDBOX_ACTIONS: dict[str, tuple[frozenset[RS], RS | None]] = {
    "start_recovery": (frozenset({RS.PENDING}), RS.IN_PROCESS),
    "record_payment": (frozenset({RS.IN_PROCESS}), RS.PAYMENT_RECEIVED),
    "partial_payment": (frozenset({RS.IN_PROCESS}), None),
    "dispute": (frozenset({RS.IN_PROCESS}), RS.DISPUTED),
    "request_evidence": (frozenset({RS.DISPUTED}), RS.EVIDENCE_REQUESTED),
    "confirm_recovery": (frozenset({RS.PAYMENT_RECEIVED}), RS.RECOVERED),
}
ALL_ACTIONS = {**PUBLIC_ACTIONS, **SANDBOX_ACTIONS}


def actions_from(status: str) -> tuple[list[str], list[str]]:
    """(public actions, sandbox test actions) available in a status, for INVALID_STATE messages."""
    public = [name for name, (allowed, _) in PUBLIC_ACTIONS.items() if status in allowed]
    if status not in TERMINAL_STATUSES:
        public += ["add_contact"]
    public += ["update_metadata"]
    sandbox = [name for name, (allowed, _) in SANDBOX_ACTIONS.items() if status in allowed]
    return public, sandbox


def invalid_state(doc: dict[str, Any], action: str, allowed_from: Iterable[str], why: str = "") -> ApiError:
    status = doc["status"]
    public, sandbox = actions_from(status)
    allowed = sorted(str(s) for s in allowed_from)
    reason = why or f"`{action}` is allowed only from {', '.join(allowed) or 'no status'}"
    return ApiError(
        ErrorCode.INVALID_STATE,
        f"Cannot {action} receivable {doc['id']}: it is `{status}` and {reason}. "
        f"Allowed now: {', '.join(public) if public else 'nothing (terminal status)'}.",
        details={
            "current_status": status,
            "action": action,
            "allowed_from": allowed,
            "allowed_actions": public,
            "sandbox_actions": sandbox,
        },
    )


def require_action(doc: dict[str, Any], action: str) -> None:
    allowed, _ = ALL_ACTIONS[action]
    if doc["status"] not in allowed:
        raise invalid_state(doc, action, allowed)


def move(db: sqlite3.Connection, doc: dict[str, Any], to: RS, now: datetime) -> None:
    frm = RS(doc["status"])
    if to not in TRANSITIONS[frm]:  # a bug in the sandbox, never a client mistake
        raise AssertionError(f"illegal transition {frm} -> {to}")
    doc["status"] = to.value
    emit(
        db,
        EventType.RECEIVABLE_STATUS_CHANGED,
        {"receivable_id": doc["id"], "from": frm.value, "to": to.value},
        now,
        receivable_id=doc["id"],
        user_id=doc["user_id"],
    )


def _emit_for(db: sqlite3.Connection, doc: dict[str, Any], event_type: EventType, data: dict, now: datetime) -> None:
    emit(db, event_type, {"receivable_id": doc["id"], **data}, now, receivable_id=doc["id"], user_id=doc["user_id"])


def remaining(doc: dict[str, Any]) -> Decimal:
    partial = doc.get("partial_payment")
    return Decimal(partial["remaining_amount"]) if partial else Decimal(doc["amount"])


def _resume_recovery(doc: dict[str, Any], now: datetime) -> None:
    progress = doc["recovery_progress"]
    has_phone = any(c.get("phone") for c in doc["debtor"].get("contacts", []))
    progress["next_action"] = "phone_call" if has_phone else "email_reminder"
    progress["next_action_date"] = iso(now + timedelta(days=2))


def start_recovery(db: sqlite3.Connection, doc: dict[str, Any], now: datetime) -> None:
    require_action(doc, "start_recovery")
    move(db, doc, RS.IN_PROCESS, now)
    progress = doc["recovery_progress"]
    progress["emails_sent"] = int(progress.get("emails_sent") or 0) + 1
    progress["last_contact"] = iso(now)
    _resume_recovery(doc, now)
    doc["estimated_recovery_date"] = (now + timedelta(days=30)).date().isoformat()


def record_payment(db: sqlite3.Connection, doc: dict[str, Any], now: datetime) -> None:
    require_action(doc, "record_payment")
    amount = remaining(doc)
    if doc.get("partial_payment"):
        doc["partial_payment"].update(
            paid_amount=Decimal(doc["amount"]), remaining_amount=to_money(0), status="settled"
        )
    move(db, doc, RS.PAYMENT_RECEIVED, now)
    doc["recovery_progress"]["next_action"] = None
    doc["recovery_progress"]["next_action_date"] = None
    doc["paid_amount"] = Decimal(doc["amount"])
    _emit_for(
        db, doc, EventType.PAYMENT_RECEIVED,
        {"amount": amount, "currency": CURRENCY, "total_paid": Decimal(doc["amount"]), "received_at": iso(now)}, now,
    )


def partial_payment(db: sqlite3.Connection, doc: dict[str, Any], paid_amount: Decimal, now: datetime) -> None:
    require_action(doc, "partial_payment")
    partial = doc.get("partial_payment")
    if partial and partial.get("status") == "awaiting_decision":
        raise invalid_state(
            doc, "partial_payment", ["in_process"],
            "a previous partial payment is still awaiting the platform's decision (POST .../partial-payment)",
        )
    left = remaining(doc)
    if paid_amount >= left:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"paid_amount ({paid_amount}) must be less than the remaining amount ({left}); "
            "use the record_payment action for a full payment.",
            field="paid_amount",
        )
    original = Decimal(doc["amount"])
    paid_total = to_money(original - left + paid_amount)
    doc["partial_payment"] = {
        "original_amount": original,
        "paid_amount": paid_total,
        "remaining_amount": to_money(original - paid_total),
        "last_payment_amount": paid_amount,
        "status": "awaiting_decision",
        "received_at": iso(now),
    }
    _emit_for(
        db, doc, EventType.RECEIVABLE_PARTIAL_PAYMENT,
        {
            "original_amount": original,
            "paid_amount": paid_total,
            "remaining_amount": to_money(original - paid_total),
            "action_required": "platform_decision",
        },
        now,
    )


def decide_partial_payment(
    db: sqlite3.Connection, doc: dict[str, Any], action: str, notes: str | None, now: datetime
) -> None:
    require_action(doc, "partial_payment_decision")
    partial = doc.get("partial_payment")
    if not partial or partial.get("status") != "awaiting_decision":
        raise invalid_state(
            doc, "partial_payment_decision", ["in_process"],
            "no partial payment is awaiting a decision (wait for a receivable.partial_payment event)",
        )
    partial["status"] = action
    partial["decision_notes"] = notes
    partial["decided_at"] = iso(now)
    if action == "mark_complete":
        move(db, doc, RS.PAYMENT_RECEIVED, now)
        doc["recovery_progress"]["next_action"] = None
        doc["recovery_progress"]["next_action_date"] = None
        doc["paid_amount"] = Decimal(partial["paid_amount"])
        _emit_for(
            db, doc, EventType.PAYMENT_RECEIVED,
            {
                "amount": Decimal(partial["paid_amount"]),
                "currency": CURRENCY,
                "total_paid": Decimal(partial["paid_amount"]),
                "received_at": iso(now),
                "accepted_as_complete": True,
            },
            now,
        )
    else:
        _resume_recovery(doc, now)


def dispute(
    db: sqlite3.Connection,
    doc: dict[str, Any],
    reason: str,
    debtor_message: str | None,
    evidence_requested: list[str],
    now: datetime,
) -> None:
    require_action(doc, "dispute")
    move(db, doc, RS.DISPUTED, now)
    doc["dispute"] = {
        "reason": reason,
        "debtor_message": debtor_message,
        "evidence_requested": evidence_requested,
        "opened_at": iso(now),
    }
    doc["recovery_progress"]["next_action"] = None  # disputes pause recovery [doc]
    doc["recovery_progress"]["next_action_date"] = None
    _emit_for(
        db, doc, EventType.RECEIVABLE_DISPUTED,
        {"dispute": {"reason": reason, "debtor_message": debtor_message, "evidence_requested": evidence_requested}},
        now,
    )


def request_evidence(
    db: sqlite3.Connection, doc: dict[str, Any], evidence_requested: list[str] | None, now: datetime
) -> None:
    require_action(doc, "request_evidence")
    move(db, doc, RS.EVIDENCE_REQUESTED, now)
    dispute_doc = doc.get("dispute") or {}
    if evidence_requested is not None:
        dispute_doc["evidence_requested"] = evidence_requested
    doc["dispute"] = dispute_doc
    _emit_for(
        db, doc, EventType.RECEIVABLE_EVIDENCE_REQUESTED,
        {"evidence_requested": dispute_doc.get("evidence_requested", []), "dispute": dispute_doc},
        now,
    )


def submit_evidence(
    db: sqlite3.Connection, doc: dict[str, Any], documents: list[dict[str, Any]], statement: str, now: datetime
) -> None:
    require_action(doc, "submit_evidence")
    if doc["status"] == RS.DISPUTED:
        move(db, doc, RS.EVIDENCE_REQUESTED, now)  # see contract.py: every change is an edge of TRANSITIONS
    move(db, doc, RS.IN_PROCESS, now)
    for d in documents:
        db.execute(
            "INSERT INTO evidence (receivable_id, type, filename, size_bytes, sha256, description, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc["id"], d["type"], d["filename"], d["size_bytes"], d["sha256"], d.get("description"), iso(now)),
        )
    doc.setdefault("evidence", []).append({"submitted_at": iso(now), "statement": statement, "documents": documents})
    if doc.get("dispute"):
        doc["dispute"]["evidence_submitted_at"] = iso(now)
    _resume_recovery(doc, now)


def confirm_recovery(db: sqlite3.Connection, doc: dict[str, Any], now: datetime) -> None:
    require_action(doc, "confirm_recovery")
    move(db, doc, RS.RECOVERED, now)
    recovered = Decimal(doc.get("paid_amount") or doc["amount"])
    doc["recovered_amount"] = recovered
    _emit_for(
        db, doc, EventType.RECEIVABLE_RECOVERED,
        {"amount": Decimal(doc["amount"]), "recovered_amount": recovered, "currency": CURRENCY}, now,
    )


def cancel(db: sqlite3.Connection, doc: dict[str, Any], reason: str, notes: str | None, now: datetime) -> None:
    require_action(doc, "cancel")
    move(db, doc, RS.CANCELLED, now)
    doc["cancellation"] = {"reason": reason, "notes": notes, "cancelled_at": iso(now)}
    doc["recovery_progress"]["next_action"] = None
    doc["recovery_progress"]["next_action_date"] = None
    _emit_for(db, doc, EventType.RECEIVABLE_CANCELLED, {"reason": reason, "notes": notes}, now)


def add_contact(doc: dict[str, Any], contact: Contact) -> None:
    if doc["status"] in TERMINAL_STATUSES:
        raise invalid_state(doc, "add_contact", sorted(ACTIVE_STATUSES), "the recovery is closed")
    contacts = doc["debtor"].setdefault("contacts", [])
    if len(contacts) >= MAX_CONTACTS:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"A receivable holds at most {MAX_CONTACTS} contacts: this one already has {len(contacts)}.",
            field="debtor.contacts",
        )
    _check_contact(contact, "contact")
    contacts.append(contact.model_dump(mode="python"))


def merge_metadata(doc: dict[str, Any], changes: dict[str, Any]) -> None:
    metadata = dict(doc.get("metadata") or {})
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    doc["metadata"] = metadata


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
