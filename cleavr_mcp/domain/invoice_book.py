"""The CleverInvo invoice book judged for recovery: which invoices are past due, which Cleavr can take now (with
the fee and whether the debtor has a phone), which it cannot and why, and which are already on Cleavr.

Pure apart from the readers at the end, which take the CleverInvo and Cleavr clients as arguments. What counts
as recoverable for one invoice is `cleverinvo.mapping.assess`; this module adds what needs the whole book: the
receivables already submitted, Cleavr's live rate table and Cleavr's own checks on the mapped receivable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..cleavr.errors import CleavrValidationError
from ..cleavr.models import CommissionRates, Contact, ListReceivablesQuery, Receivable
from ..cleavr.prepare import prepare_receivable
from ..cleavr.validation import commission_tier, compute_commission, days_since, normalize_phone, tier_label, to_money
from ..cleverinvo.errors import NotFoundError
from ..cleverinvo.mapping import SOURCE, Assessment, Blocker, MappedReceivable, assess, parse_address, to_receivable
from ..cleverinvo.models import Client, Invoice, InvoiceStatus, InvoiceSummary
from .tenancy import current_principal

if TYPE_CHECKING:
    from ..cleavr.client import CleavrClient
    from ..cleverinvo.client import CleverInvoClient

PREVIEW_USER = "usr_clv_preview"  # to_receivable needs a user id; list previews discard the receivable
INVALID_DATA = "invalid_data"
PLACEHOLDER_EMAIL = "placeholder@example.com"  # stands in for an email the human will give, to check the rest
FIXABLE = (Blocker.NO_EMAIL, Blocker.AMOUNT_UNKNOWN)  # only a human's input is missing


@dataclass(frozen=True)
class RateTable:
    """Cleavr's live rate table (default tiers, or the partner's flat rate when one is set)."""

    tiers: tuple[tuple[int, int | None, Decimal], ...]

    @classmethod
    def of(cls, rates: CommissionRates) -> RateTable:
        custom = rates.platform_custom_rate
        if custom.enabled and custom.flat_rate is not None:
            return cls(((0, None, custom.flat_rate),))
        return cls(tuple((r.days_from, r.days_to, r.rate) for r in rates.default_rates))

    def quote(self, amount: Decimal, age_days: int) -> dict[str, Any]:
        return compute_commission(amount, age_days, self.tiers)

    def rate(self, age_days: int) -> tuple[Decimal, str]:
        lo, hi, rate = commission_tier(age_days, self.tiers)
        return rate, tier_label(lo, hi)


def debt_age(invoice: InvoiceSummary, today: date) -> int:
    """Debt age as Cleavr prices it: days since the invoice date (not since the due date)."""
    return max(days_since(invoice.issue_date, today), 0)


def is_past_due(verdict: Assessment) -> bool:
    """Worth listing at all: unpaid, sent, and past its due date (or marked overdue by CleverInvo)."""
    if verdict.status in (InvoiceStatus.PAID, InvoiceStatus.DRAFT) or Blocker.NOT_DUE in verdict.codes:
        return False
    return verdict.days_overdue > 0 or verdict.status == InvoiceStatus.OVERDUE


def fee_quote(verdict: Assessment, rates: RateTable, age_days: int) -> dict[str, Any] | None:
    """Cleavr's fee on what is still due, at the live rates; None when there is no positive EUR amount to price."""
    if verdict.amount_due is not None and verdict.amount_due > 0 and verdict.currency == "EUR":
        return rates.quote(verdict.amount_due, age_days)
    return None


def hard_reasons(verdict: Assessment) -> list[str]:
    """Why the invoice cannot be recovered whatever the user adds (what is left once email and amount are given)."""
    return [r for r, c in zip(verdict.reasons, verdict.codes, strict=True) if c not in FIXABLE]


def cleavr_refusal(mapped: MappedReceivable) -> str | None:
    """Why Cleavr would refuse this receivable (its local rules: email format, SIRET, dates, amounts), or None."""
    data = mapped.receivable
    if "email" in mapped.missing:  # asked for separately; check everything else
        contact = {**(data["debtor"]["contacts"] or [{"level": 0}])[0], "email": PLACEHOLDER_EMAIL}
        data = {**data, "debtor": {**data["debtor"], "contacts": [contact]}}
    try:
        prepare_receivable(MappedReceivable(data, mapped.notes, []).to_model(force_proceed=True))
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"
    except CleavrValidationError as exc:
        return f"{exc.code}: {exc.message}"
    return None


def amount_needs_confirming(invoice: Invoice, amount_due: Decimal | None) -> bool:
    """The amount still due is shown (and editable) whenever it is not simply the unpaid total."""
    return (invoice.status == InvoiceStatus.PARTIALLY_PAID or invoice.amount_due is None
            or (amount_due is not None and amount_due != invoice.amount_due))


def money_sum(values: Iterable[Decimal | None]) -> Decimal:
    return to_money(sum(values, Decimal(0)))  # type: ignore[arg-type]


# --- one invoice, judged -----------------------------------------------------------------------------------------
@dataclass
class Entry:
    """One past-due invoice, judged: recoverable (with fee and phone) or not (with why)."""

    invoice: InvoiceSummary
    client: Client | None
    verdict: Assessment
    age_days: int
    receivable: Receivable | None = None  # the one it already became
    fee: dict[str, Any] | None = None
    has_phone: bool = False

    @property
    def client_name(self) -> str | None:
        return self.verdict.client_name

    @property
    def fixable(self) -> bool:
        """Only a human's input is missing (email, amount still due): recover_invoice can ask for it."""
        hard = set(self.verdict.codes) - set(FIXABLE)
        return bool(self.verdict.codes) and not hard

    def reasons(self) -> list[str]:
        """Why it is not recoverable, naming the receivable it already became when there is one."""
        reasons = []
        for code, reason in zip(self.verdict.codes, self.verdict.reasons, strict=True):
            if code == Blocker.ALREADY_SUBMITTED and self.receivable is not None:
                reason = f"already submitted to Cleavr as {self.receivable.id} ({self.receivable.status.value})"
            reasons.append(reason)
        return reasons


def judge_invoice(invoice: Invoice, submitted: dict[str, Receivable], today: date) -> Entry:
    """One full invoice (get_invoice), judged against the receivables already submitted; fee not quoted."""
    verdict = assess(invoice, invoice.client, today, frozenset(submitted))
    return Entry(invoice, None, verdict, debt_age(invoice, today), submitted.get(invoice.id))


# --- the book ------------------------------------------------------------------------------------------------------
@dataclass
class Book:
    """One read of the CleverInvo invoices and of what Cleavr already has, for one tool call."""

    today: date
    invoices: list[InvoiceSummary]
    clients: dict[str, Client]
    submitted: dict[str, Receivable]
    rates: RateTable

    def judge(self, *, min_days_overdue: int = 0) -> tuple[list[Entry], list[Entry]]:
        """(recoverable, not recoverable) past-due invoices overdue by at least `min_days_overdue`, oldest first."""
        ok: list[Entry] = []
        blocked: list[Entry] = []
        already = frozenset(self.submitted)
        for invoice in self.invoices:
            client = self.clients.get(invoice.client_id)
            verdict = assess(invoice, client or invoice.client, self.today, already)
            if not is_past_due(verdict) or verdict.days_overdue < min_days_overdue:
                continue
            entry = Entry(invoice, client, verdict, debt_age(invoice, self.today), self.submitted.get(invoice.id))
            if verdict.recoverable:
                assert verdict.amount_due is not None
                entry.fee = self.rates.quote(verdict.amount_due, entry.age_days)
                mapped = to_receivable(invoice, client, user_id=PREVIEW_USER, today=self.today)
                entry.has_phone = "phone" not in mapped.missing
                refusal = cleavr_refusal(mapped)
                if refusal is None:
                    ok.append(entry)
                    continue
                verdict.recoverable = False
                verdict.codes.append(INVALID_DATA)
                verdict.reasons.append(f"CleverInvo data Cleavr would refuse ({refusal}): fix it in CleverInvo")
                blocked.append(entry)
            else:
                blocked.append(entry)
        order = lambda e: (-e.verdict.days_overdue, e.invoice.invoice_number)  # noqa: E731
        return sorted(ok, key=order), sorted(blocked, key=order)


@dataclass
class Plan:
    """What recover_invoices would do with the invoices matching the filters."""

    book: Book
    min_days_overdue: int
    to_send: list[Entry]
    already: list[Entry]
    skipped: list[Entry]

    @classmethod
    def of(cls, book: Book, min_days_overdue: int, recoverable: list[Entry], blocked: list[Entry]) -> Plan:
        """Send the recoverable ones; of the others, those already on Cleavr apart from those skipped."""
        already = [e for e in blocked if e.receivable is not None]
        skipped = [e for e in blocked if e.receivable is None]
        return cls(book, min_days_overdue, recoverable, already, skipped)

    @property
    def no_phone(self) -> list[Entry]:
        return [e for e in self.to_send if not e.has_phone]

    def fingerprint(self) -> list[list[Any]]:
        """The confirmed selection: a token minted for it is refused if CleverInvo or Cleavr changed since."""
        return [[e.invoice.id, f"{e.verdict.amount_due:.2f}", e.has_phone] for e in self.to_send] + \
               [[e.invoice.id, ",".join(e.verdict.codes)] for e in self.already + self.skipped]


def count_with(entries: Iterable[Entry], code: str) -> int:
    return sum(1 for e in entries if code in e.verdict.codes)


# --- what the user types -----------------------------------------------------------------------------------------
_PLAIN = re.compile(r"^\d+(?:[.,]\d{1,2})?$")  # 3000 / 3000.5 / 3000,50
_GROUPED_DOT = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?$")  # 3,000.50
_GROUPED_COMMA = re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?$")  # 3.000,50


def parse_amount(text: str) -> Decimal | None:
    """An amount as people type it (3 000,00 € / 3,000.00 / 3000.5); None when it is not clearly one."""
    compact = re.sub(r"[\s\u00a0\u202f€]|EUR", "", text or "", flags=re.IGNORECASE)
    if _PLAIN.match(compact):
        number = compact.replace(",", ".")
    elif _GROUPED_DOT.match(compact):
        number = compact.replace(",", "")
    elif _GROUPED_COMMA.match(compact):
        number = compact.replace(".", "").replace(",", ".")
    else:
        return None
    try:
        return to_money(Decimal(number))
    except InvalidOperation:
        return None


def debtor_country(client: Client | None) -> str:
    """The country a debtor's local phone number is read in: from the client's address, France by default."""
    parsed = parse_address(client.address if client else None)
    return parsed.country if parsed and parsed.country else "FR"


def contact_problem(email: str | None, phone: str | None, client: Client | None) -> tuple[str, str] | None:
    """(field, problem) for a debtor_email/debtor_phone argument Cleavr would not take; None when they are fine."""
    if email:
        try:
            Contact(email=email.strip())
        except ValidationError:
            return "debtor_email", f"debtor_email {email!r} is not a valid email address."
    if phone and normalize_phone(phone, debtor_country(client)) is None:
        return "debtor_phone", f"debtor_phone {phone!r} is not a valid phone number."
    return None


# --- reading, through the clients passed in ----------------------------------------------------------------------
async def rate_table(cleavr: CleavrClient) -> RateTable:
    return RateTable.of(await cleavr.get_commission_rates())


async def submitted_receivables(cleavr: CleavrClient, user_id: str | None) -> dict[str, Receivable]:
    """CleverInvo invoice id → the Cleavr receivable it became (any status: cancelled ones are not resent). Only
    the receivables of the request's principal's creditors: another creditor's never marks an invoice."""
    principal = current_principal()
    if user_id is None and principal.user_ids is not None and len(principal.user_ids) == 1:
        user_id = next(iter(principal.user_ids))  # one creditor: the API filters
    found: dict[str, Receivable] = {}
    async for rec in cleavr.iter_receivables(ListReceivablesQuery(user_id=user_id, limit=100)):
        if not principal.may_act_for(rec.user_id):
            continue
        meta = rec.metadata or {}
        invoice_id = meta.get("platform_invoice_id")
        if meta.get("source") == SOURCE and isinstance(invoice_id, str) and invoice_id not in found:
            found[invoice_id] = rec
    return found


async def read_book(ci: CleverInvoClient, cleavr: CleavrClient, *, search: str | None, user_id: str | None,
                    today: date) -> Book:
    """Every invoice matching `search`, their clients, what `user_id` already submitted and the live rates."""
    invoices = [row async for row in ci.iter_invoices(search=search)]
    clients = {c.id: c for c in [c async for c in ci.iter_clients()]}
    # Clients deleted since (soft delete: gone from the list, still readable by id) of unpaid past-due invoices.
    wanted = {i.client_id for i in invoices if i.client_id not in clients and i.status not in
              (InvoiceStatus.PAID, InvoiceStatus.DRAFT) and i.due_date < today}
    for client_id in sorted(wanted):
        try:
            clients[client_id] = await ci.get_client(client_id)
        except NotFoundError:
            pass  # the invoice's embedded client{name, email} is all there is
    submitted = await submitted_receivables(cleavr, user_id)
    return Book(today, invoices, clients, submitted, await rate_table(cleavr))
