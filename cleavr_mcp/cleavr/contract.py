"""Every undocumented ([decided]) point of the Cleavr Connect contract, in one place.

`docs/api/cleavr-connect.md` tags each point [doc] or [decided]. The sandbox implements these values and the
client speaks them; if the real API turns out different, the correction is an edit here.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

# --- Conventions -------------------------------------------------------------------------------------------
LIVE_BASE_URL: Final = "https://api.cleavr.fr"  # [doc]
TEST_BASE_URL: Final = "https://api-test.cleavr.fr"  # [doc, 2026 OpenAPI]
API_VERSION: Final = "2026-01-02"  # [doc]
SUPPORTED_API_VERSIONS: Final = ("2025-08-28", "2026-01-02")  # [doc]
VERSION_HEADER: Final = "Cleavr-Version"  # [doc]
CURRENCY: Final = "EUR"  # [doc] only EUR accepted
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"  # [decided transport]
IDEMPOTENT_REPLAYED_HEADER: Final = "Idempotent-Replayed"  # [decided]
IDEMPOTENCY_TTL_SECONDS: Final = 24 * 3600  # [decided]
SIGNATURE_HEADER: Final = "Cleavr-Signature"  # [doc]
REQUEST_ID_HEADER: Final = "Request-Id"  # [decided]
MAX_JSON_BODY_BYTES: Final = 1024 * 1024  # [decided] sandbox refuses larger JSON bodies
MAX_FILE_BYTES: Final = 20 * 1024 * 1024  # [decided] OCR and evidence documents
MAX_EVIDENCE_DOCUMENTS: Final = 10  # [decided]
MAX_BATCH: Final = 100  # [doc]
LIST_LIMIT_DEFAULT: Final = 20  # [decided]
LIST_LIMIT_MAX: Final = 100  # [decided]
ACCESS_TOKEN_TTL_SECONDS: Final = 3600  # [decided]
WEBHOOK_TIMEOUT_SECONDS: Final = 10  # [decided]
WEBHOOK_MAX_ATTEMPTS: Final = 8  # [decided]
DEFAULT_RATE_LIMIT_PER_SECOND: Final = 100  # [decided] sandbox default
# Evidence travels base64 inside JSON, so its body cap follows the document limits, not MAX_JSON_BODY_BYTES [decided].
MAX_EVIDENCE_BODY_BYTES: Final = (MAX_FILE_BYTES * 4 // 3 + 4) * MAX_EVIDENCE_DOCUMENTS + 1024 * 1024
MAX_MULTIPART_OVERHEAD_BYTES: Final = 64 * 1024  # [decided] OCR upload = file + form overhead
OAUTH_CODE_TTL_SECONDS: Final = 600  # [decided] authorization codes: single use, 10 minutes
ACCESS_TOKEN_PREFIX: Final = "at_test_"  # [decided] sandbox token shapes (opaque to clients)
REFRESH_TOKEN_PREFIX: Final = "rt_test_"

# --- [decided] behaviours the sandbox implements and the client relies on ----------------------------------
# Idempotency (§4.2): keys are scoped to the platform (client_id); the fingerprint is method + path + the
#   canonical body (parsed JSON, sorted keys, numbers compared by value). Only 2xx responses are stored: an error
#   had no effect, so a corrected retry with the same key goes through. Concurrent requests with one key are
#   serialised: exactly one object is created and the others get the stored response (`Idempotent-Replayed: true`).
#   A different body (or path) under a stored key -> 409 IDEMPOTENCY_KEY_REUSED, details.receivable_id when the
#   first response created a receivable. PATCH/DELETE need no key (PATCH metadata is a merge, DELETE is final).
# PATCH /v1/receivables/{id} {metadata}: shallow MERGE into the stored metadata; a null value deletes that key.
# Lists: created_after / created_before are inclusive calendar dates (UTC); order newest first, ties by id desc.
# OAuth errors use the error envelope: invalid_client / invalid_grant -> 401 UNAUTHORIZED, malformed or
#   unsupported requests -> 400 VALIDATION_ERROR; details.oauth_error carries the RFC 6749 error name.
#   A rotated (used) refresh token is refused; tokens already issued from it stay valid.
# Evidence from `disputed` passes through `evidence_requested` (two status_changed events) so that every status
#   change is an edge of TRANSITIONS. Partial-payment `mark_complete` moves in_process -> payment_received (the
#   paid part is what was received); confirmation to `recovered` follows like any payment.
# Commission on a receivable is fixed at submission from the invoice age (days since issue_date).

# --- Ids [doc prefixes; test credentials decided] -------------------------------------------------------
class IdPrefix(StrEnum):
    USER = "usr_clv_"
    RECEIVABLE = "rec_"
    EXTRACTION = "ext_"
    EVENT = "evt_"
    WEBHOOK = "wh_"
    WEBHOOK_SECRET = "whsec_"
    CLIENT_ID_LIVE = "plat_live_"
    CLIENT_SECRET_LIVE = "sk_live_"
    CLIENT_ID_TEST = "plat_test_"
    CLIENT_SECRET_TEST = "sk_test_"


# --- Paths [doc where marked in the contract; the rest decided] ------------------------------------------
class Paths:
    AUTHORIZE = "/oauth/authorize"
    TOKEN = "/oauth/token"
    USERS = "/v1/users"
    USER = "/v1/users/{user_id}"
    ONBOARDING_STATUS = "/v1/users/{user_id}/onboarding-status"
    REQUIREMENTS = "/v1/users/{user_id}/requirements"
    RECEIVABLES = "/v1/receivables"
    RECEIVABLE = "/v1/receivables/{receivable_id}"
    OCR = "/v1/receivables/ocr"
    BATCH = "/v1/receivables/batch"
    CONTACTS = "/v1/receivables/{receivable_id}/contacts"
    CANCEL = "/v1/receivables/{receivable_id}/cancel"
    EVIDENCE = "/v1/receivables/{receivable_id}/evidence"
    PARTIAL_PAYMENT = "/v1/receivables/{receivable_id}/partial-payment"
    COMMISSION_CALCULATE = "/v1/commission/calculate"
    COMMISSION_RATES = "/v1/commission/rates"
    WEBHOOKS = "/v1/webhooks"
    WEBHOOK = "/v1/webhooks/{webhook_id}"


# --- OAuth scopes [doc] ------------------------------------------------------------------------------------
class Scope(StrEnum):
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    RECEIVABLES_READ = "receivables:read"
    RECEIVABLES_WRITE = "receivables:write"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
    REPORTS_READ = "reports:read"
    COMMISSION_READ = "commission:read"


ALL_SCOPES: Final = tuple(s.value for s in Scope)

# --- Enums -------------------------------------------------------------------------------------------------
class ReceivableStatus(StrEnum):
    PENDING = "pending"
    IN_PROCESS = "in_process"
    PAYMENT_RECEIVED = "payment_received"
    RECOVERED = "recovered"
    DISPUTED = "disputed"
    EVIDENCE_REQUESTED = "evidence_requested"
    CANCELLED = "cancelled"


class OnboardingStatus(StrEnum):
    PENDING_ONBOARDING = "pending_onboarding"
    IN_REVIEW = "in_review"
    ACTIVE = "active"
    REJECTED = "rejected"


class CompanyType(StrEnum):
    COMPANY = "company"
    INDIVIDUAL = "individual"


class CancelReason(StrEnum):  # [doc]
    PAID_DIRECTLY = "paid_directly"
    DISPUTED_VALID = "disputed_valid"
    BUSINESS_DECISION = "business_decision"
    INCORRECT_SUBMISSION = "incorrect_submission"


class DisputeReason(StrEnum):  # [decided full set; service_not_delivered doc]
    SERVICE_NOT_DELIVERED = "service_not_delivered"
    AMOUNT_INCORRECT = "amount_incorrect"
    QUALITY_ISSUE = "quality_issue"
    ALREADY_PAID = "already_paid"
    NOT_OUR_DEBT = "not_our_debt"
    OTHER = "other"


class DocumentType(StrEnum):  # [decided]
    DELIVERY_CONFIRMATION = "delivery_confirmation"
    SIGNED_CONTRACT = "signed_contract"
    CONTRACT = "contract"
    INVOICE = "invoice"
    PURCHASE_ORDER = "purchase_order"
    CORRESPONDENCE = "correspondence"
    TIMESHEET = "timesheet"
    OTHER = "other"


class PartialPaymentAction(StrEnum):  # [doc]
    CONTINUE_RECOVERY = "continue_recovery"
    MARK_COMPLETE = "mark_complete"


class EventType(StrEnum):
    USER_ONBOARDING_COMPLETED = "user.onboarding.completed"  # [doc]
    RECEIVABLE_CREATED = "receivable.created"  # [doc]
    PAYMENT_RECEIVED = "payment.received"  # [doc]
    RECEIVABLE_DISPUTED = "receivable.disputed"  # [doc]
    RECEIVABLE_PARTIAL_PAYMENT = "receivable.partial_payment"  # [doc]
    RECEIVABLE_STATUS_CHANGED = "receivable.status_changed"  # [decided]
    RECEIVABLE_EVIDENCE_REQUESTED = "receivable.evidence_requested"  # [decided]
    RECEIVABLE_RECOVERED = "receivable.recovered"  # [decided]
    RECEIVABLE_CANCELLED = "receivable.cancelled"  # [decided]


# --- Lifecycle [doc transitions; INVALID_STATE decided] ---------------------------------------------------
S = ReceivableStatus
TRANSITIONS: Final[dict[ReceivableStatus, frozenset[ReceivableStatus]]] = {
    S.PENDING: frozenset({S.IN_PROCESS, S.CANCELLED}),
    S.IN_PROCESS: frozenset({S.PAYMENT_RECEIVED, S.DISPUTED, S.CANCELLED}),
    S.PAYMENT_RECEIVED: frozenset({S.RECOVERED}),
    S.DISPUTED: frozenset({S.EVIDENCE_REQUESTED, S.CANCELLED}),
    S.EVIDENCE_REQUESTED: frozenset({S.IN_PROCESS, S.CANCELLED}),
    S.RECOVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
TERMINAL_STATUSES: Final = frozenset({S.RECOVERED, S.CANCELLED})
CANCELLABLE_STATUSES: Final = frozenset({S.PENDING, S.IN_PROCESS, S.DISPUTED, S.EVIDENCE_REQUESTED})  # [decided]
EVIDENCE_STATUSES: Final = frozenset({S.DISPUTED, S.EVIDENCE_REQUESTED})  # [doc]
# A receivable counts against DUPLICATE_RECEIVABLE while it is "active" (not terminal) [decided].
ACTIVE_STATUSES: Final = frozenset(set(S) - TERMINAL_STATUSES)
del S

# --- Commission [doc table; rounding decided] ----------------------------------------------------------------
COMMISSION_TIERS: Final[tuple[tuple[int, int | None, Decimal], ...]] = (
    (0, 44, Decimal("10.80")),
    (45, 89, Decimal("15.90")),
    (90, 179, Decimal("20.60")),
    (180, 364, Decimal("25.70")),
    (365, 546, Decimal("27.50")),
    (547, None, Decimal("29.50")),
)

# --- Phone warning wording [doc] ---------------------------------------------------------------------------
SUCCESS_RATE_WITH_PHONE: Final = 82
SUCCESS_RATE_WITHOUT_PHONE: Final = 45
MISSING_PHONE_MESSAGE: Final = (
    f"Missing phone number reduces success rate from {SUCCESS_RATE_WITH_PHONE}% to {SUCCESS_RATE_WITHOUT_PHONE}%."
)


# --- Error codes and their HTTP statuses [doc codes; statuses decided] -------------------------------------
class ErrorCode(StrEnum):
    USER_NOT_ONBOARDED = "USER_NOT_ONBOARDED"
    MISSING_EMAIL_CONTACT = "MISSING_EMAIL_CONTACT"
    MISSING_PHONE_WARNING = "MISSING_PHONE_WARNING"
    INVALID_SIRET = "INVALID_SIRET"
    DUPLICATE_RECEIVABLE = "DUPLICATE_RECEIVABLE"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    INVALID_DATES = "INVALID_DATES"
    INVALID_FILE = "INVALID_FILE"
    USER_EXISTS = "USER_EXISTS"
    UNAUTHORIZED = "UNAUTHORIZED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    NOT_FOUND = "NOT_FOUND"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_STATE = "INVALID_STATE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Non-JSON error bodies or transport failures surfaced by the client [decided]
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"


ERROR_STATUS: Final[dict[ErrorCode, int]] = {
    ErrorCode.USER_NOT_ONBOARDED: 403,
    ErrorCode.MISSING_EMAIL_CONTACT: 400,
    ErrorCode.MISSING_PHONE_WARNING: 422,
    ErrorCode.INVALID_SIRET: 400,
    ErrorCode.DUPLICATE_RECEIVABLE: 409,
    ErrorCode.INVALID_CURRENCY: 400,
    ErrorCode.AMOUNT_MISMATCH: 400,
    ErrorCode.INVALID_DATES: 400,
    ErrorCode.INVALID_FILE: 400,
    ErrorCode.USER_EXISTS: 409,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INSUFFICIENT_SCOPE: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_STATE: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.UNSUPPORTED_VERSION: 400,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.NOT_IMPLEMENTED: 501,
}

# Scope each endpoint family needs [decided mapping of doc scopes]
SCOPE_FOR: Final[dict[tuple[str, str], Scope]] = {
    ("GET", "users"): Scope.USERS_READ,
    ("POST", "users"): Scope.USERS_WRITE,
    ("GET", "receivables"): Scope.RECEIVABLES_READ,
    ("POST", "receivables"): Scope.RECEIVABLES_WRITE,
    ("PATCH", "receivables"): Scope.RECEIVABLES_WRITE,
    ("GET", "webhooks"): Scope.WEBHOOKS_READ,
    ("POST", "webhooks"): Scope.WEBHOOKS_WRITE,
    ("DELETE", "webhooks"): Scope.WEBHOOKS_WRITE,
    ("GET", "commission"): Scope.COMMISSION_READ,
    ("POST", "commission"): Scope.COMMISSION_READ,
}
