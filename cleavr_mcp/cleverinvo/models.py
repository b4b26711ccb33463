"""Pydantic v2 models for the CleverInvo API (docs/api/cleverinvo.md).

camelCase on the wire, snake_case in Python. Responses keep unknown fields (the real API may add some); requests
forbid them so a typo is caught before it is sent. Money is `Decimal` (wire JSON is parsed with `wire.loads`, so
numbers never pass through float), calendar dates are `date`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

API_KEY_PREFIX = "cinv_"
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 100
SEARCH_MAX_CHARS = 255


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    VIEWED = "VIEWED"
    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    OVERDUE = "OVERDUE"


def _no_float_noise(value: Any) -> Any:
    # A float that slipped through (e.g. a dict built by hand) goes through str() so 125.1 stays 125.1.
    return str(value) if isinstance(value, float) else value


def _calendar_date(value: Any) -> Any:
    # The doc shows "2024-06-01"; accept a full timestamp too ("2024-06-01T00:00:00.000Z") and keep its date.
    if isinstance(value, str) and len(value) > 10 and value[4] == "-" and value[10] in "T ":
        return value[:10]
    if isinstance(value, datetime):
        return value.date()
    return value


def _status(value: Any) -> Any:
    # Unknown statuses a future API might add are kept as plain strings instead of failing the whole page.
    try:
        return InvoiceStatus(value)
    except ValueError:
        return value


Amount = Annotated[Decimal, BeforeValidator(_no_float_noise)]
"""A decimal amount as CleverInvo sends it (5500.00); never a float."""
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
Status = Annotated[InvoiceStatus | str, BeforeValidator(_status)]


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class Response(_Wire):
    model_config = ConfigDict(extra="allow")


class Request(_Wire):
    model_config = ConfigDict(extra="forbid")

    def to_wire(self, *, partial: bool = False) -> dict[str, Any]:
        """camelCase dict for `wire.dumps`. `partial` (updates) keeps only the fields that were set, nulls included,
        so a PUT can clear a field without resending the others."""
        if partial:
            return self.model_dump(mode="python", by_alias=True, exclude_unset=True)
        return self.model_dump(mode="python", by_alias=True, exclude_none=True)


# --- Clients -------------------------------------------------------------------------------------------------
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ClientCreate(Request):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    email: ShortText | None = None
    address: ShortText | None = Field(None, examples=["123 Main St, New York, NY 10001"])
    tax_id: ShortText | None = Field(None, examples=["US-123456789", "732 829 320 00074", "FR40303265045"])
    phone: ShortText | None = Field(None, examples=["+1-555-0100", "06 12 34 56 78"])
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class ClientUpdate(Request):
    """Every field may change; unset fields are left alone, an explicit None clears the field."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    email: ShortText | None = None
    address: ShortText | None = None
    tax_id: ShortText | None = None
    phone: ShortText | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class Client(Response):
    id: str
    name: str
    email: str | None = None
    address: str | None = None
    tax_id: str | None = None
    phone: str | None = None
    notes: str | None = None
    is_active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ClientRef(Response):
    """The `client{name, email}` summary embedded in invoices."""

    name: str | None = None
    email: str | None = None


# --- Invoices ------------------------------------------------------------------------------------------------
class LineItemInput(Request):
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    quantity: Annotated[Amount, Field(gt=0)]
    unit_price: Annotated[Amount, Field(ge=0)]
    tax_rate: Annotated[Amount, Field(ge=0, le=100)] = Decimal(0)


class LineItem(Response):
    description: str
    quantity: Amount
    unit_price: Amount
    amount: Amount | None = None
    tax_rate: Amount = Decimal(0)


class InvoiceCreate(Request):
    client_id: str
    invoice_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    currency: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{3}$")] = "EUR"
    issue_date: date
    due_date: date
    line_items: list[LineItemInput] = Field(min_length=1)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    terms: Annotated[str, StringConstraints(max_length=5000)] | None = None


class InvoiceUpdate(Request):
    """Only DRAFT invoices can be edited (the API answers 400 otherwise)."""

    client_id: str | None = None
    invoice_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    currency: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{3}$")] | None = None
    issue_date: date | None = None
    due_date: date | None = None
    line_items: list[LineItemInput] | None = Field(None, min_length=1)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    terms: Annotated[str, StringConstraints(max_length=5000)] | None = None
    status: InvoiceStatus | None = Field(
        None, description="Sandbox extension: move a DRAFT to another status (e.g. SENT) to build test data"
    )
    amount_paid: Annotated[Amount, Field(ge=0)] | None = Field(
        None, description="Sandbox extension: what the client already paid (with status PARTIALLY_PAID)"
    )


class InvoiceSaved(Response):
    """What POST and PUT /invoices answer: `{id, invoiceNumber, total, status}`."""

    id: str
    invoice_number: str
    total: Amount
    status: Status


class InvoiceSummary(Response):
    """A row of `GET /invoices`."""

    id: str
    client_id: str
    invoice_number: str
    currency: str
    issue_date: CalendarDate
    due_date: CalendarDate
    subtotal: Amount
    tax_total: Amount = Decimal(0)
    discount_total: Amount = Decimal(0)
    total: Amount
    status: Status
    created_at: datetime | None = None
    client: ClientRef | None = None
    amount_paid: Amount | None = Field(
        None, description="Sandbox extension (not in the CleverInvo doc): what the client already paid"
    )

    @property
    def amount_due(self) -> Decimal | None:
        """What is still owed, when it can be known: the total, minus `amount_paid` when the API gives it.
        None for PARTIALLY_PAID without `amount_paid` (the real API does not say how much was paid)."""
        if self.status == InvoiceStatus.PAID:
            return Decimal("0.00")
        if self.amount_paid is not None:
            return self.total - self.amount_paid
        if self.status == InvoiceStatus.PARTIALLY_PAID:
            return None
        return self.total


class Invoice(InvoiceSummary):
    """`GET /invoices/:id`: the full invoice with its line items."""

    line_items: list[LineItem] = Field(default_factory=list)
    notes: str | None = None
    terms: str | None = None
    sent_via_email: bool | None = None
    sent_at: datetime | None = None
    paid_at: datetime | None = None


# --- Envelopes -----------------------------------------------------------------------------------------------
T = TypeVar("T")


class Page(Response, Generic[T]):
    """A list envelope: `{data, total, page, limit, totalPages}`."""

    data: list[T]
    total: int
    page: int
    limit: int
    total_pages: int

    @property
    def has_more(self) -> bool:
        return self.page < self.total_pages


class PdfDownload(BaseModel):
    """A downloaded invoice PDF."""

    path: Path
    filename: str = Field(description="From Content-Disposition, sanitised to a bare file name")
    size: int
    content_type: str | None = None
