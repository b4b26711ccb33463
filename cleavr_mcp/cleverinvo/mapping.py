"""From a CleverInvo invoice and its client to a Cleavr receivable: pure functions, no I/O.

The rules are the project's decision in docs/api/cleverinvo.md ("Mapping to Cleavr"):
- recoverable = status OVERDUE, or SENT/VIEWED/PARTIALLY_PAID with a due date in the past; EUR only;
- invoiceNumber → invoice.numbers[0]; dates; total/subtotal/taxTotal → amount/amount_before_tax/tax_amount
  (PARTIALLY_PAID: only what is still due is recovered, split before-tax/tax pro rata);
- client name → debtor.company_name; email/phone → the level-0 contact (phone in E.164);
- address parsed; taxId recognised as SIRET / SIREN / FR VAT / something else;
- invoice id → metadata.platform_invoice_id and the idempotency key.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from ..cleavr.contract import CURRENCY
from ..cleavr.models import ReceivableCreate
from ..cleavr.validation import (
    CENT,
    compute_commission,
    is_valid_fr_vat,
    is_valid_siren,
    is_valid_siret,
    normalize_phone,
)
from .models import Client, ClientRef, InvoiceStatus, InvoiceSummary

SOURCE = "cleverinvo"


# --- Tax ids -------------------------------------------------------------------------------------------------
_TAX_LABEL = r"(?:SIRET|SIREN|TVA(?:INTRA(?:COM(?:MUNAUTAIRE)?)?)?|VAT(?:NUMBER|NO)?|N°|NO|NUM(?:ERO|ÉRO)?|ID)"
_TAX_ID = re.compile(rf"(?:{_TAX_LABEL}[:#]?)*(FR[0-9A-Z]{{2}}\d{{9}}|\d{{14}}|\d{{9}})")


def recognise_tax_id(text: str | None) -> dict[str, str] | None:
    """What a free-text `taxId` is, tolerant of spaces, dots, dashes and a leading label.

    → `{"siret": "73282932000074"}` (14 digits, Luhn), `{"siren": "732829320"}` (9 digits, Luhn),
    `{"vat_number": "FR44732829320"}` (FR + key + SIREN, key checked), `{"invalid": text}` (looks French but the
    checksum fails: never send it as a SIRET/VAT), `{"foreign": text}` (anything else, e.g. `US-123456789`), or
    None for an empty value.
    """
    if text is None or not text.strip():
        return None
    original = text.strip()
    compact = re.sub(r"[\s.\-/_]", "", original.upper())
    match = _TAX_ID.fullmatch(compact)
    if not match:
        return {"foreign": original}
    value = match.group(1)
    if value.startswith("FR"):
        return {"vat_number": value} if is_valid_fr_vat(value) else {"invalid": original}
    if len(value) == 14:
        return {"siret": value} if is_valid_siret(value) else {"invalid": original}
    return {"siren": value} if is_valid_siren(value) else {"invalid": original}


# --- Addresses -----------------------------------------------------------------------------------------------
def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip(" .")


# Country names as people type them at the end of an address (English, French, local), folded (no accents).
COUNTRY_NAMES: dict[str, str] = {
    "france": "FR", "fr": "FR", "republique francaise": "FR",
    "uk": "GB", "u.k": "GB", "gb": "GB", "united kingdom": "GB", "great britain": "GB", "england": "GB",
    "royaume-uni": "GB", "royaume uni": "GB", "angleterre": "GB", "scotland": "GB", "wales": "GB",
    "usa": "US", "us": "US", "u.s.a": "US", "u.s": "US", "united states": "US", "united states of america": "US",
    "etats-unis": "US", "etats unis": "US",
    "belgique": "BE", "belgium": "BE", "belgie": "BE", "be": "BE",
    "germany": "DE", "allemagne": "DE", "deutschland": "DE", "de": "DE",
    "spain": "ES", "espagne": "ES", "espana": "ES", "es": "ES",
    "italy": "IT", "italie": "IT", "italia": "IT", "it": "IT",
    "switzerland": "CH", "suisse": "CH", "schweiz": "CH", "ch": "CH",
    "luxembourg": "LU", "lu": "LU",
    "netherlands": "NL", "pays-bas": "NL", "pays bas": "NL", "nederland": "NL", "nl": "NL",
    "portugal": "PT", "pt": "PT", "ireland": "IE", "irlande": "IE", "ie": "IE",
    "monaco": "MC", "mc": "MC", "austria": "AT", "autriche": "AT", "at": "AT",
    "canada": "CA", "ca": "CA",
}

_FR_POSTCODE = re.compile(r"^(?P<before>.*?)[,\s]*\b(?P<pc>\d{5})\s+(?P<city>[^\d,]+?)\s*$")
_FOUR_DIGIT_POSTCODE = re.compile(r"^(?P<before>.*?)[,\s]*\b(?P<pc>\d{4})\s+(?P<city>[^\d,]+?)\s*$")
_UK_POSTCODE = re.compile(r"^(?P<before>.*?)[,\s]+(?P<pc>[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})$", re.IGNORECASE)
_US_STATE_ZIP = re.compile(r"^(?P<before>.*?)[,\s]+(?P<state>[A-Z]{2})\s+(?P<pc>\d{5}(?:-\d{4})?)$")
# Street-type words after which, in a comma-less English address, the city starts.
_STREET_END = re.compile(
    r"^(?P<street>.*?\b(?:st|street|rd|road|ave|avenue|ln|lane|way|pl|place|sq|square|dr|drive|blvd|boulevard|"
    r"ct|court|crescent|cres|terrace|ter|hwy|highway|pkwy|parkway|row|walk|gardens|hill|close|mews)\.?"
    r"(?:\s+(?:nw|ne|sw|se|n|s|e|w))?)\s+(?P<city>[A-Za-z][A-Za-z .'-]*)$",
    re.IGNORECASE,
)


def _street_and_city(before: str) -> tuple[list[str], str | None]:
    """Split what precedes an English postcode into street parts and a city: the last comma-separated part is
    the city; without commas, the city follows the street-type word (St, Road…), else it is left unknown."""
    parts = [p.strip() for p in before.split(",") if p.strip()]
    if len(parts) > 1:
        return parts[:-1], parts[-1]
    m = _STREET_END.match(before.strip())
    if m:
        return [m.group("street")], m.group("city")
    if len(parts) == 1 and not re.match(r"^\d", parts[0]):
        return [], parts[0]  # "London SW1A 2AA": a city alone
    return parts, None


@dataclass(frozen=True)
class ParsedAddress:
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    region: str | None = None  # US state, kept in the city for Cleavr
    raw: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.line1 and self.postal_code and self.city)

    def to_cleavr(self) -> dict[str, str] | None:
        """The Cleavr `address` object, or None when street, postcode or city is missing."""
        if not self.complete:
            return None
        city = f"{self.city}, {self.region}" if self.region else self.city
        out = {"line1": self.line1, "city": city, "postal_code": self.postal_code, "country": self.country or "FR"}
        if self.line2:
            out["line2"] = self.line2
        return out


def _tidy_city(city: str) -> str:
    city = city.strip(" ,.-–")
    # "PARIS" → "Paris", "SAINT-ETIENNE" → "Saint-Etienne"; mixed case is left as typed.
    return city.title() if city.isupper() else city


def _split_street(parts: list[str]) -> tuple[str | None, str | None]:
    """line1 = the part that looks like a street (starts with a number), the rest → line2."""
    parts = [p.strip(" ,–-") for p in parts if p.strip(" ,–-")]
    if not parts:
        return None, None
    street = next((p for p in parts if re.match(r"^\d", p)), parts[0])
    rest = [p for p in parts if p is not street]
    return street, (", ".join(rest) or None)


def parse_address(text: str | None) -> ParsedAddress | None:
    """Split a one-line (or multi-line) address into street, postcode, city and ISO country.

    Handles `12 rue de la Paix, 75002 Paris`, `12 rue de la Paix 75002 PARIS France`,
    `10 Downing St, London SW1A 2AA, UK`, `123 Main St, New York, NY 10001`, multi-line forms and a trailing
    country name. Parts that cannot be told apart are left None rather than guessed.
    """
    if text is None or not text.strip():
        return None
    raw = text.strip()
    flat = re.sub(r"\s*[\r\n]+\s*", ", ", raw)
    flat = re.sub(r"\s+", " ", flat).strip(" ,")

    # A trailing country (after a comma, or as the last word(s)).
    country = None
    parts = [p.strip() for p in flat.split(",")]
    if len(parts) > 1 and _fold(parts[-1]) in COUNTRY_NAMES:
        country = COUNTRY_NAMES[_fold(parts.pop())]
    body = ", ".join(parts)
    if country is None:
        for words in (3, 2, 1):
            tail = body.rsplit(" ", words)
            if len(tail) == words + 1:
                candidate = " ".join(tail[1:])
                # Two-letter codes only when typed in capitals ("Paris FR"), so a word is never taken for a country.
                plausible = len(candidate) > 2 or (candidate.isupper() and candidate.isalpha())
                if _fold(candidate) in COUNTRY_NAMES and not re.search(r"\d", candidate) and plausible:
                    country = COUNTRY_NAMES[_fold(candidate)]
                    body = tail[0].strip(" ,")
                    break

    if country in (None, "US"):
        m = _US_STATE_ZIP.match(body)
        if m:
            street, city = _street_and_city(m.group("before"))
            line1, line2 = _split_street(street)
            city = _tidy_city(city) if city else None
            return ParsedAddress(line1, line2, m.group("pc"), city, "US", m.group("state"), raw)
    if country in (None, "GB", "IE"):
        m = _UK_POSTCODE.match(body)
        if m:
            street, city = _street_and_city(m.group("before"))
            line1, line2 = _split_street(street)
            pc = re.sub(r"\s+", "", m.group("pc").upper())
            pc = f"{pc[:-3]} {pc[-3:]}"
            return ParsedAddress(line1, line2, pc, _tidy_city(city) if city else None, country or "GB", None, raw)
    if country in (None, "FR", "DE", "ES", "IT", "MC", "FI"):
        m = _FR_POSTCODE.match(body)
        if m:
            line1, line2 = _split_street(m.group("before").split(","))
            # A bare 5-digit postcode with no country is read as French (a French invoicing context).
            return ParsedAddress(line1, line2, m.group("pc"), _tidy_city(m.group("city")), country or "FR", None, raw)
    if country in ("BE", "CH", "LU", "AT", "NL", "DK", "PT"):
        m = _FOUR_DIGIT_POSTCODE.match(body) or re.match(
            r"^(?P<before>.*?)[,\s]*\b(?P<pc>\d{4}\s?[A-Z]{0,2}|\d{4}-\d{3})\s+(?P<city>[^\d,]+?)\s*$", body
        )
        if m:
            line1, line2 = _split_street(m.group("before").split(","))
            return ParsedAddress(line1, line2, m.group("pc"), _tidy_city(m.group("city")), country, None, raw)
    # Unrecognised layout: keep the street if there is one, never invent the rest.
    line1, line2 = _split_street(body.split(","))
    return ParsedAddress(line1=line1, line2=line2, country=country, raw=raw)


# --- Recoverability -----------------------------------------------------------------------------------------
class Blocker:
    """Reason codes (stable, for tools to branch on); the human text goes in `reasons`."""

    NOT_EUR = "not_eur"
    NO_EMAIL = "no_email"
    ALREADY_SUBMITTED = "already_submitted"
    PAID = "paid"
    DRAFT = "draft"
    NOT_DUE = "not_yet_due"
    ZERO_DUE = "zero_due"
    AMOUNT_UNKNOWN = "amount_due_unknown"
    UNKNOWN_STATUS = "unknown_status"


@dataclass
class Assessment:
    """Everything a tool needs to list an invoice: can it be recovered, why not, for how much, at what fee."""

    invoice_id: str
    invoice_number: str
    client_name: str | None
    status: str
    currency: str
    due_date: date
    days_overdue: int
    total: Decimal
    amount_paid: Decimal | None
    amount_due: Decimal | None  # None: PARTIALLY_PAID and the paid amount is unknown (ask the human)
    recoverable: bool
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)  # what a human can supply to unblock: email, amount_due
    commission: dict[str, Any] | None = None  # compute_commission(amount_due, days_overdue) for recoverable ones


def _client_email(invoice: InvoiceSummary, client: Client | ClientRef | None) -> str | None:
    for source in (client, invoice.client):
        email = getattr(source, "email", None) if source is not None else None
        if email and email.strip():
            return email.strip()
    return None


def _client_name(invoice: InvoiceSummary, client: Client | ClientRef | None) -> str | None:
    for source in (client, invoice.client):
        name = getattr(source, "name", None) if source is not None else None
        if name and name.strip():
            return name.strip()
    return None


def assess(
    invoice: InvoiceSummary,
    client: Client | ClientRef | None,
    today: date,
    already_submitted: set[str] | frozenset[str] = frozenset(),
    *,
    amount_due: Decimal | None = None,
) -> Assessment:
    """The full verdict on one invoice (list row or full invoice). `amount_due` overrides the computed one."""
    status = invoice.status.value if isinstance(invoice.status, InvoiceStatus) else str(invoice.status)
    days = (today - invoice.due_date).days
    past_due = days > 0
    due = amount_due if amount_due is not None else invoice.amount_due
    reasons: list[str] = []
    codes: list[str] = []
    needs: list[str] = []

    def block(code: str, reason: str) -> None:
        codes.append(code)
        reasons.append(reason)

    if status == InvoiceStatus.DRAFT:
        block(Blocker.DRAFT, "draft: the invoice was never sent to the client")
    elif status == InvoiceStatus.PAID:
        block(Blocker.PAID, "already paid")
    elif status in (InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID):
        if not past_due:
            when = "today" if days == 0 else f"in {-days} day{'s' if days != -1 else ''}"
            block(Blocker.NOT_DUE, f"not yet due (due {invoice.due_date.isoformat()}, {when})")
    elif status != InvoiceStatus.OVERDUE:
        block(Blocker.UNKNOWN_STATUS, f"status {status} is not one Cleavr can recover")
    if invoice.currency.upper() != CURRENCY:
        block(Blocker.NOT_EUR, f"currency {invoice.currency.upper()}: Cleavr accepts EUR only")
    if invoice.id in already_submitted:
        block(Blocker.ALREADY_SUBMITTED, "already submitted to Cleavr")
    if status not in (InvoiceStatus.PAID, InvoiceStatus.DRAFT):
        if due is None:
            needs.append("amount_due")
            block(Blocker.AMOUNT_UNKNOWN, "partially paid: the amount still due is unknown (ask the user)")
        elif due <= 0:
            block(Blocker.ZERO_DUE, "nothing left to pay (amount due is 0.00)")
    if _client_email(invoice, client) is None:
        needs.append("email")
        block(Blocker.NO_EMAIL, "no email for the client: Cleavr needs one (ask the user for it)")

    recoverable = not reasons
    commission = None
    if due is not None and due > 0 and not any(c in codes for c in (Blocker.PAID, Blocker.DRAFT, Blocker.NOT_EUR)):
        commission = compute_commission(due, max(days, 0))
    return Assessment(
        invoice_id=invoice.id,
        invoice_number=invoice.invoice_number,
        client_name=_client_name(invoice, client),
        status=status,
        currency=invoice.currency.upper(),
        due_date=invoice.due_date,
        days_overdue=max(days, 0),
        total=invoice.total,
        amount_paid=invoice.amount_paid,
        amount_due=due,
        recoverable=recoverable,
        reasons=reasons,
        codes=codes,
        needs=needs,
        commission=commission,
    )


def recoverability(
    invoice: InvoiceSummary,
    client: Client | ClientRef | None,
    today: date,
    already_submitted: set[str] | frozenset[str] = frozenset(),
) -> tuple[bool, list[str]]:
    """(recoverable, reasons it is not). See `assess` for the detailed verdict."""
    verdict = assess(invoice, client, today, already_submitted)
    return verdict.recoverable, verdict.reasons


# --- Receivable --------------------------------------------------------------------------------------------
class NotRecoverableError(ValueError):
    """The invoice cannot become a receivable whatever the human adds (paid, draft, not due, not EUR…)."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class Note(str):
    """A mapping note: the English text results carry, keeping its template and values (data) so that a page can
    show it in another language with the values still data."""

    template: str
    values: dict[str, str]

    def __new__(cls, template: str, **values: str) -> Note:
        note = super().__new__(cls, template.format(**values))
        note.template, note.values = template, values
        return note


class MappedReceivable(NamedTuple):
    receivable: dict[str, Any]  # ReceivableCreate-shaped (snake_case); Decimals for money
    notes: list[str]  # what the user should be told (partial amount, dropped phone, unparsed address…)
    missing: list[str]  # what a human must still supply: "email", "phone" (or agree to proceed), "amount_due"

    def to_model(self, *, force_proceed: bool | None = None) -> ReceivableCreate:
        """Validate as a ReceivableCreate (raises pydantic.ValidationError if `missing` holds "email")."""
        data = dict(self.receivable)
        if force_proceed is not None:
            data["force_proceed"] = force_proceed
        return ReceivableCreate.model_validate(data)


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _fmt(value: Decimal, currency: str) -> str:
    return f"{_money(value):,.2f} {currency}".replace(",", " ")


def _service_description(invoice: InvoiceSummary) -> str | None:
    items = getattr(invoice, "line_items", None) or []
    text = "; ".join(dict.fromkeys(i.description.strip() for i in items if i.description.strip()))
    return (text[:1997] + "…") if len(text) > 2000 else (text or None)


def to_receivable(
    invoice: InvoiceSummary,
    client: Client | None,
    *,
    user_id: str,
    today: date,
    amount_due: Decimal | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> MappedReceivable:
    """Map one invoice (preferably the full `Invoice`, for the service description) and its client.

    `amount_due` is what is still owed on a PARTIALLY_PAID invoice (default: total − amountPaid when the API
    gives it). `email`/`phone` are what the human supplied when the client has none. Raises NotRecoverableError
    for invoices that can never be recovered (paid, draft, not yet due, not EUR, nothing due).
    The result is deterministic (no timestamps), so resending it with the same idempotency key replays.
    """
    verdict = assess(invoice, client, today, amount_due=amount_due)
    human_fixable = (Blocker.NO_EMAIL, Blocker.AMOUNT_UNKNOWN)
    hard = [r for r, c in zip(verdict.reasons, verdict.codes, strict=True) if c not in human_fixable]
    if hard:
        raise NotRecoverableError(hard)

    notes: list[str] = []
    missing: list[str] = []
    currency = invoice.currency.upper()
    total = _money(invoice.total)
    tax = _money(invoice.tax_total) if invoice.tax_total is not None else None
    before = total - tax if tax is not None else None  # after any discount, so amount == before + tax holds
    if before is not None and (before < 0 or tax < 0):
        before = tax = None
        notes.append(Note("Before-tax and tax amounts are inconsistent on the invoice: only the total is sent."))

    due = verdict.amount_due
    status = verdict.status
    if due is None:
        missing.append("amount_due")
        amount: Decimal | None = None
    else:
        amount = _money(due)
        if amount != total:
            paid = total - amount
            notes.append(
                f"Partially paid: recovering the {_fmt(amount, currency)} still due of {_fmt(total, currency)} "
                f"({_fmt(paid, currency)} already paid)."
            )
            if before is not None and total > 0:
                before = _money(before * amount / total)
                tax = amount - before
                notes.append(Note("Before-tax and tax amounts are prorated to the amount still due."))
        elif status == InvoiceStatus.PARTIALLY_PAID:
            notes.append("Partially paid, but the amount still due equals the total: recovering the full total.")

    invoice_part: dict[str, Any] = {
        "numbers": [invoice.invoice_number],
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "amount": amount,
        "currency": currency,
    }
    if before is not None and amount is not None:
        invoice_part["amount_before_tax"] = before
        invoice_part["tax_amount"] = tax
    description = _service_description(invoice)
    if description:
        invoice_part["service_description"] = description
    terms = getattr(invoice, "terms", None)
    if terms and terms.strip():
        invoice_part["payment_terms"] = terms.strip()[:500]

    company_name = _client_name(invoice, client) or ""
    debtor: dict[str, Any] = {"company_name": company_name, "company_type": "company"}
    metadata: dict[str, Any] = {"platform_invoice_id": invoice.id, "source": SOURCE, "client_id": invoice.client_id}
    if amount is not None and amount != total:
        metadata["invoice_total"] = format(total, "f")
        metadata["amount_paid"] = format(total - amount, "f")

    # Address
    address = parse_address(client.address if client else None)
    country = address.country if address else None
    if address is not None:
        cleavr_address = address.to_cleavr()
        if cleavr_address:
            debtor["address"] = cleavr_address
        else:
            metadata["address"] = address.raw
            notes.append(Note("Address {address!r} could not be split into street, postcode and city: kept in "
                              "metadata.", address=address.raw))

    # Tax id
    tax_id = recognise_tax_id(client.tax_id if client else None)
    if tax_id:
        kind, value = next(iter(tax_id.items()))
        if kind == "siret":
            debtor["siret"] = value
        elif kind == "vat_number":
            debtor["vat_number"] = value
        elif kind == "siren":
            metadata["siren"] = value
            notes.append(Note("Tax id {value} is a SIREN (company), not a SIRET (establishment): kept in metadata.",
                              value=value))
        elif kind == "invalid":
            metadata["tax_id"] = value
            notes.append(Note("Tax id {value!r} looks French but its checksum fails: not sent as SIRET/VAT.",
                              value=value))
        else:
            metadata["tax_id"] = value
            notes.append(Note("Tax id {value!r} is not a French SIRET/SIREN/VAT number: kept in metadata.",
                              value=value))

    # Level-0 contact
    contact: dict[str, Any] = {"level": 0}
    contact_email = (email or "").strip() or _client_email(invoice, client)
    if contact_email:
        contact["email"] = contact_email
    else:
        missing.append("email")
    raw_phone = (phone or "").strip() or ((client.phone or "").strip() if client else "")
    if raw_phone:
        e164 = normalize_phone(raw_phone, country if country and len(country) == 2 else "FR")
        if e164:
            contact["phone"] = e164
        else:
            notes.append(Note("Phone {phone!r} is not a valid number: dropped.", phone=raw_phone))
    if "phone" not in contact:
        missing.append("phone")
    debtor["contacts"] = [contact] if len(contact) > 1 else []

    receivable = {"user_id": user_id, "invoice": invoice_part, "debtor": debtor, "metadata": metadata}
    return MappedReceivable(receivable, notes, missing)


def idempotency_key_for_invoice(invoice_id: str, user_id: str) -> str:
    """Stable Idempotency-Key for recovering one CleverInvo invoice for one Cleavr user (same inputs → same key)."""
    digest = hashlib.sha256(f"{SOURCE}\x1f{user_id}\x1f{invoice_id}".encode()).hexdigest()
    return f"{SOURCE}-{digest[:40]}"
