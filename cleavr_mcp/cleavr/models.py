"""Pydantic v2 models for every request and response of the Cleavr Connect contract.

Requests forbid unknown fields (a typo must not be silently dropped); responses keep unknown fields (the real
API will add some). Money is `Decimal` with two places, dates are `date`, ids are checked by prefix.
Field descriptions come from the docs (seed 001) and become the MCP tool schemas: they are shown to the model in
every conversation, so they stay short, and `examples` are kept only where they prevent a mistake (amounts).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from .contract import (
    CURRENCY,
    LIST_LIMIT_MAX,
    MAX_BATCH,
    MAX_EVIDENCE_DOCUMENTS,
    CancelReason,
    CompanyType,
    DocumentType,
    EventType,
    OnboardingStatus,
    PartialPaymentAction,
    ReceivableStatus,
)
from .text import refuse_hidden
from .validation import CENT


class EmailAddress(EmailStr):
    """pydantic's EmailStr (same validation, errors and schema), except that `email_validator` is imported at the
    first validation rather than when a model is built: the MCP server's start-up does not pay for it."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: type[Any], _handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(cls._validate, core_schema.str_schema())


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite amount")
    try:
        cents = value.quantize(CENT)
    except InvalidOperation:  # more digits than the decimal context holds: not a plausible amount
        raise ValueError("is too large") from None
    if value != cents:
        raise ValueError("must have at most 2 decimal places (cents), e.g. 4166.67")
    return cents


def _no_float_noise(value: Any) -> Any:
    # JSON numbers arrive as float in lax mode; str() keeps 4166.67 as typed instead of its binary expansion.
    return str(value) if isinstance(value, float) else value


Money = Annotated[
    Decimal,
    BeforeValidator(_no_float_noise),
    AfterValidator(_two_places),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    # One compact schema instead of pydantic's number|string union: tool schemas stay small and say "cents".
    WithJsonSchema({"type": ["string", "number"], "pattern": r"^-?\d+(\.\d{1,2})?$"}, mode="validation"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$"}, mode="serialization"),
]
"""An amount in euros with cents. Serialised to JSON as a decimal string ("795.00") so no float ever rounds it."""

NonNegativeMoney = Annotated[Money, Field(ge=0)]
PositiveMoney = Annotated[Money, Field(gt=0)]


def _prefixed(prefix: str):
    # The pattern says it all; no example id (a model must take ids from results, never make one up).
    return Annotated[str, StringConstraints(pattern=rf"^{prefix}[A-Za-z0-9_]+$", max_length=64)]


UserId = _prefixed("usr_clv_")
ReceivableId = _prefixed("rec_")
ExtractionId = _prefixed("ext_")
EventId = _prefixed("evt_")
WebhookId = _prefixed("wh_")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
# Names and invoice numbers are shown to the person who approves a write and feed the idempotency key: control,
# bidi and invisible characters in them are refused (they could make two look-alike invoices, or hide text).
NameText = Annotated[Text, AfterValidator(refuse_hidden)]
InvoiceNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(refuse_hidden)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
CountryCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    # ISO 3166-1 alpha-2; the pattern and the default (FR) say enough in the schema.
]
# Free-form metadata is bounded, in the schema the model reads and again at validation (before pydantic walks it):
# an object of at most 50 keys whose values are scalars, or arrays/objects of scalars (2 levels in all), 16 KB.
METADATA_MAX_KEYS = 50
METADATA_MAX_DEPTH = 2
METADATA_MAX_BYTES = 16_384
_SCALAR_SCHEMA: dict[str, Any] = {"type": ["string", "number", "boolean", "null"], "maxLength": 2000}
# One schema per value rather than an anyOf of three (the same values accepted, a third of the bytes in every
# tool that takes metadata): `items` applies only to an array, the inner `additionalProperties` only to an object.
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object", "maxProperties": METADATA_MAX_KEYS, "propertyNames": {"maxLength": 100},
    "additionalProperties": {
        # No "type": any JSON value, but an array holds scalars (`items`) and so does an object; inner sizes are
        # checked at validation.
        "maxLength": 2000, "items": _SCALAR_SCHEMA, "additionalProperties": _SCALAR_SCHEMA,
    },
}


def _bounded_metadata(value: Any) -> Any:
    """Refuse metadata deeper than METADATA_MAX_DEPTH containers, or bigger than the limits, without recursing
    (an iterative walk: a 100,000-deep value costs nothing but the refusal)."""
    if not isinstance(value, dict):
        return value  # pydantic reports the type error
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > METADATA_MAX_DEPTH:
                raise ValueError(f"nests deeper than {METADATA_MAX_DEPTH} levels: use flat key/values such as "
                                 '{"customer_id": "c_1", "tags": ["a", "b"]}')
            if len(item) > METADATA_MAX_KEYS:
                raise ValueError(f"has more than {METADATA_MAX_KEYS} entries in one object or list")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                size += len(str(key)) if key is not None else 0
                stack.append((child, depth + 1))
        else:
            size += len(str(item))
        if size > METADATA_MAX_BYTES:
            raise ValueError(f"is larger than {METADATA_MAX_BYTES} characters in all")
    return value


Metadata = Annotated[
    dict[str, Any],
    BeforeValidator(_bounded_metadata),
    WithJsonSchema(METADATA_SCHEMA, mode="validation"),
    Field(description="Your own references, e.g. platform_invoice_id (flat values)"),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- Shared shapes -----------------------------------------------------------------------------------------
class Address(Request):
    line1: Text
    line2: Text | None = None
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]
    country: CountryCode = "FR"


class Contact(Request):
    """One contact needs an email; a phone lifts the success rate from 45% to 82%."""

    first_name: NameText | None = None
    last_name: NameText | None = None
    email: EmailAddress | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None  # any usual form
    job_title: Text | None = None
    level: Literal[0, 1, 2] = Field(0, description="0 primary, 1 secondary, 2 tertiary")


# --- Users -------------------------------------------------------------------------------------------------
class Company(Request):
    name: NameText
    siret: Annotated[str, StringConstraints(strip_whitespace=True)] | None = Field(None, description="14 digits")
    vat_number: Annotated[str, StringConstraints(strip_whitespace=True)] | None = Field(
        None, description="FR + 2-char key + 9-digit SIREN")
    address: Address | None = None
    website: Text | None = None


class UserContact(Request):
    first_name: NameText | None = None
    last_name: NameText | None = None
    phone: str | None = Field(None, description="E.164, e.g. +33612345678")
    job_title: Text | None = None


class PlatformInfo(Request):
    callback_url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class CreateUserRequest(Request):
    email: EmailAddress = Field(description="The creditor's email")
    company: Company | None = None
    contact: UserContact | None = None
    platform: PlatformInfo | None = None


class Capabilities(Response):
    send_receivables: bool = Field(description="True once onboarding (KYB) is complete: receivables may be submitted")


class User(Response):
    id: str
    email: str
    status: OnboardingStatus
    onboarding_url: str | None = None
    capabilities: Capabilities | None = None
    created_at: datetime | None = None


class OnboardingStatusResponse(Response):
    user_id: str
    status: OnboardingStatus
    capabilities: Capabilities
    onboarding_url: str | None = None


class Requirement(Response):
    code: str
    description: str


class Requirements(Response):
    currently_due: list[Requirement] = Field(default_factory=list)
    pending_review: list[Requirement] = Field(default_factory=list)


# --- Receivables -------------------------------------------------------------------------------------------
class InvoiceDetails(Request):
    numbers: list[InvoiceNumber] = Field(min_length=1, max_length=50)
    issue_date: date
    due_date: date = Field(description="On or after issue_date")
    service_description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    # The one example kept: amounts are strings with cents, and = amount_before_tax + tax_amount when given.
    amount: PositiveMoney = Field(description="Incl. tax, EUR", examples=["5000.00"])
    amount_before_tax: NonNegativeMoney | None = None
    tax_amount: NonNegativeMoney | None = None
    currency: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)] = CURRENCY  # only EUR
    payment_terms: Text | None = None
    late_penalty_rate: Annotated[Decimal, Field(ge=0, le=100), WithJsonSchema({"type": ["number", "string"]})] | None = (
        Field(None, description="Annual %"))


class Debtor(Request):
    company_name: NameText
    company_type: CompanyType = CompanyType.COMPANY
    siret: Annotated[str, StringConstraints(strip_whitespace=True)] | None = Field(
        None, description="14 digits")
    vat_number: Annotated[str, StringConstraints(strip_whitespace=True)] | None = Field(
        None, description="FR + 2-char key + 9-digit SIREN")
    address: Address | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=10)  # Contact's description: one needs an email


class ReceivableCreate(Request):
    """A receivable as sent to `POST /v1/receivables`."""

    user_id: UserId
    invoice: InvoiceDetails
    debtor: Debtor
    metadata: Metadata = Field(default_factory=dict)
    force_proceed: bool | None = Field(
        None, description="Submit even though no contact has a phone (only after the user agreed)"
    )
    extraction_id: ExtractionId | None = Field(None, description="Links the submission to a PDF extraction")


class RecoveryProgress(Response):
    emails_sent: int = 0
    calls_made: int = 0
    last_contact: datetime | None = None
    next_action: str | None = None
    next_action_date: datetime | None = None


class CommissionInfo(Response):
    rate: Decimal
    amount: Money


class Dispute(Response):
    reason: str
    debtor_message: str | None = None
    evidence_requested: list[str] = Field(default_factory=list)
    opened_at: datetime | None = None


class PartialPayment(Response):
    original_amount: Money
    paid_amount: Money
    remaining_amount: Money


class ReceivableInvoice(Response):
    numbers: list[str]
    issue_date: date
    due_date: date
    service_description: str | None = None
    amount: Money
    amount_before_tax: Money | None = None
    tax_amount: Money | None = None
    currency: str = CURRENCY
    payment_terms: str | None = None
    late_penalty_rate: Decimal | None = None


class ReceivableContact(Response):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    level: int = 0


class ReceivableDebtor(Response):
    company_name: str
    company_type: str = CompanyType.COMPANY
    siret: str | None = None
    vat_number: str | None = None
    address: dict[str, Any] | None = None
    contacts: list[ReceivableContact] = Field(default_factory=list)


class Receivable(Response):
    id: str
    user_id: str
    status: ReceivableStatus
    amount: Money
    currency: str = CURRENCY
    invoice: ReceivableInvoice
    debtor: ReceivableDebtor
    recovery_progress: RecoveryProgress = Field(default_factory=RecoveryProgress)
    commission: CommissionInfo | None = None
    estimated_recovery_date: date | None = None
    dispute: Dispute | None = None
    partial_payment: PartialPayment | None = None
    extraction_id: str | None = None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)


class ReceivableList(Response):
    data: list[Receivable]
    has_more: bool


class ListReceivablesQuery(Request):
    user_id: UserId | None = None
    status: ReceivableStatus | None = None
    created_after: date | None = None
    created_before: date | None = None
    limit: int = Field(20, ge=1, le=LIST_LIMIT_MAX)
    starting_after: ReceivableId | None = None


class MetadataUpdate(Request):
    metadata: Metadata


class CancelRequest(Request):
    reason: CancelReason = Field(
        description="paid_directly: debtor paid outside Cleavr; disputed_valid: the dispute is valid; "
        "business_decision: strategic stop; incorrect_submission: error in the receivable data"
    )
    notes: LongText | None = None


class EvidenceDocument(Request):
    type: DocumentType
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    content_base64: str = Field(description="The file, base64-encoded")
    description: Text | None = None


class EvidenceRequest(Request):
    documents: list[EvidenceDocument] = Field(min_length=1, max_length=MAX_EVIDENCE_DOCUMENTS)
    statement: LongText = Field(
        examples=["Products were delivered on Jan 15, 2024, as confirmed by the attached signed receipt."]
    )


class PartialPaymentDecision(Request):
    action: PartialPaymentAction = Field(
        description="continue_recovery: keep recovering the remaining amount; mark_complete: accept what was paid"
    )
    notes: LongText | None = None


class BatchRequest(Request):
    receivables: list[ReceivableCreate] = Field(min_length=1, max_length=MAX_BATCH)


class BatchSuccess(Response):
    index: int
    id: str
    status: str = "created"


class BatchFailure(Response):
    index: int
    error: str
    message: str
    field: str | None = None


class BatchResult(Response):
    successful: list[BatchSuccess] = Field(default_factory=list)
    failed: list[BatchFailure] = Field(default_factory=list)


# --- OCR extraction ----------------------------------------------------------------------------------------
class DraftInvoice(Response):
    numbers: list[str] = Field(default_factory=list)
    issue_date: date | None = None
    due_date: date | None = None
    service_description: str | None = None
    amount: Money | None = None
    amount_before_tax: Money | None = None
    tax_amount: Money | None = None
    currency: str | None = None
    payment_terms: str | None = None
    late_penalty_rate: Decimal | None = None


class DraftDebtor(Response):
    company_name: str | None = None
    company_type: str | None = None
    siret: str | None = None
    vat_number: str | None = None
    address: dict[str, Any] | None = None
    contacts: list[ReceivableContact] = Field(default_factory=list)


class ExtractionData(Response):
    invoice: DraftInvoice = Field(default_factory=DraftInvoice)
    debtor: DraftDebtor = Field(default_factory=DraftDebtor)


class ExtractionWarning(Response):
    field: str
    message: str
    extracted_value: str | None = None


class Extraction(Response):
    extraction_id: str
    confidence: float = Field(ge=0, le=1)
    data: ExtractionData
    missing_fields: list[str] = Field(default_factory=list)
    warnings: list[ExtractionWarning] = Field(default_factory=list)
    field_confidence: dict[str, float] = Field(
        default_factory=dict, description="Per-field confidence 0..1 [sandbox extension]"
    )
    raw_text: str | None = Field(None, description="Text read from the PDF (third-party, untrusted)")
    pages: int | None = None


# --- Commission --------------------------------------------------------------------------------------------
class CommissionQuoteRequest(Request):
    amount: PositiveMoney = Field(examples=["5000.00"])
    invoice_date: date | None = Field(None, description="Age is counted from this date (seed 001)")
    days_overdue: Annotated[int, Field(ge=0, le=100000)] | None = Field(None, description="Age in days (API reference)")
    platform_id: str | None = Field(None, description="For platform custom rates")

    @model_validator(mode="after")
    def _one_age(self) -> CommissionQuoteRequest:
        if (self.invoice_date is None) == (self.days_overdue is None):
            raise ValueError("give exactly one of invoice_date or days_overdue")
        return self


class CommissionQuote(Response):
    rate_percentage: Decimal = Field(examples=["15.90"])
    rate_tier: str = Field(examples=["45-89 days"])
    commission_amount: Money = Field(examples=["795.00"])
    net_recovery: Money = Field(examples=["4205.00"])
    custom_rate: bool = False


class RateRow(Response):
    days_from: int
    days_to: int | None = None
    rate: Decimal


class PlatformCustomRate(Response):
    enabled: bool = False
    flat_rate: Decimal | None = None
    volume_tiers: list[dict[str, Any]] = Field(default_factory=list)


class CommissionRates(Response):
    default_rates: list[RateRow]
    platform_custom_rate: PlatformCustomRate = Field(default_factory=PlatformCustomRate)


# --- Webhooks and events -----------------------------------------------------------------------------------
class WebhookCreate(Request):
    url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]
    events: list[str] = Field(min_length=1, description="Event types; wildcards like `receivable.*`")
    description: Text | None = None


class WebhookEndpoint(Response):
    id: str
    url: str
    secret: str | None = Field(None, description="whsec_…, returned once at creation")
    events: list[str]
    description: str | None = None
    created_at: datetime | None = None


class WebhookEndpointList(Response):
    data: list[WebhookEndpoint]


class Event(Response):
    id: str
    type: EventType | str
    created_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


# --- OAuth and errors --------------------------------------------------------------------------------------
class TokenResponse(Response):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int = 3600
    refresh_token: str | None = None
    scope: str | None = None


class ErrorDetail(Response):
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] | None = None


class ErrorBody(Response):
    error: ErrorDetail
