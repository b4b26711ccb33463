"""CleverInvo → Cleavr: find the overdue invoices, recover one or a whole filtered set, and read helpers.

"Send my invoices overdue more than 45 days to recovery" = `list_overdue_invoices` (what would go, what cannot and
why, the fee) → `recover_invoices` (one confirmation, progress, one result per invoice). Both recover tools are
idempotent by CleverInvo invoice id: an invoice already on a Cleavr receivable (`metadata.platform_invoice_id`) is
reported as such and never sent again.

Data flow of the write tools: a pure resolver (`_load_one` / `_load_many`) reads CleverInvo and Cleavr once per
round; the question resolver and the tool body both receive that same read, so what is sent is exactly what the
human was shown (on 2026-07-28 the question is re-asked if the data changed between rounds; with a token, a
digest of the data is part of the confirmed payload).
"""

from __future__ import annotations

import os
import re
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import httpx2
from mcp.server.mcpserver import AcceptedElicitation, Context, ElicitationResult, Resolve
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from ..cleavr.contract import MAX_BATCH
from ..cleavr.models import (
    BatchRequest,
    CommissionQuoteRequest,
    PositiveMoney,
    Receivable,
    ReceivableCreate,
    UserId,
)
from ..cleavr.validation import normalize_phone
from ..cleverinvo import (
    AuthenticationError,
    BadRequestError,
    CleverInvoClient,
    CleverInvoError,
    Client,
    Invoice,
    NotFoundError,
    NotRecoverableError,
    PlanLimitError,
    RateLimitedError,
    assess,
    client_from_settings,
    idempotency_key_for_invoice,
    to_receivable,
)
from ..domain.approval import quote
from ..domain.invoice_book import (
    Book,
    Entry,
    Plan,
    RateTable,
    amount_needs_confirming,
    cleavr_refusal,
    contact_problem,
    debt_age,
    debtor_country,
    fee_quote,
    hard_reasons,
    judge_invoice,
    money_sum,
    parse_amount,
    rate_table,
    read_book,
    submitted_receivables,
)
from ..domain.tenancy import Principal, current_principal
from ..toolkit.confirm import ask, payload_digest
from ..toolkit.errors import NEXT_STEPS, error_of, error_result, from_exception
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import SANDBOX_HOST, Lazy, state_of
from ..toolkit.writes import Failed, Stop, approve, execute, record_known_result
from .cleverinvo_questions import batch_question, recover_question
from .cleverinvo_shapes import (
    ClientSearchView,
    InvoiceRecoveryResult,
    InvoiceView,
    OverdueInvoicesView,
    RecoverInvoicesOutcome,
    RecoverOutcome,
    batch_outcome,
    blocked_row,
    client_row,
    invoice_view,
    left_out_result,
    nothing_to_send,
    overdue_row,
    recovery_result,
)
from .receivables import TOKEN_DESCRIPTION
from .shapes import euros, receivable_summary

if TYPE_CHECKING:
    from ..cleavr.client import CleavrClient
    from ..toolkit.state import AppState

EXTRA_KEY = "cleverinvo"
PRINCIPAL_CLIENTS_KEY = "cleverinvo_by_principal"
BATCH_CHUNK = MAX_BATCH
# Each full invoice read (line items → the service description) is one CleverInvo call, at 120 a minute: a bigger
# set is mapped from its list rows instead, so one tool call never waits minutes on the rate limit.
FULL_INVOICE_READS = 60

# Next steps for the codes only these tools produce (the shared table reads them by code).
for _code, _step in {
    "CLEVERINVO_NOT_CONFIGURED": (
        "Set CLEAVR_MCP_CLEVERINVO_BASE_URL and CLEAVR_MCP_CLEVERINVO_API_KEY (a Business-plan key from the "
        "CleverInvo dashboard) and restart the server, or use the sandbox."),
    "CLEVERINVO_UNAUTHORIZED": (
        "CleverInvo refused the API key: check CLEAVR_MCP_CLEVERINVO_API_KEY (Business plan) and restart."),
    "CLEVERINVO_PLAN_LIMIT": "The CleverInvo plan does not allow this: the user must upgrade their CleverInvo plan.",
    "CLEVERINVO_NOT_FOUND": "Check the id: call list_overdue_invoices (or search_clients) to find the right one.",
    "CLEVERINVO_UNAVAILABLE": "CleverInvo is unavailable: call the same tool again in a minute (it is safe).",
    "NOT_RECOVERABLE": "Call list_overdue_invoices to see which invoices can be recovered, and why the others cannot.",
    "DEBTOR_EMAIL_NEEDED": (
        "Ask the user for the debtor's email address, then call recover_invoice again with debtor_email."),
    "AMOUNT_DUE_NEEDED": (
        "Ask the user how much is still due on this invoice, then call recover_invoice again with amount_due."),
}.items():
    NEXT_STEPS.setdefault(_code, _step)


# --- the CleverInvo client, opened on first use ------------------------------------------------------------
class CleverInvoUnavailable(Exception):
    pass


async def open_integration(state: AppState, stack: AsyncExitStack) -> None:
    """Attach the CleverInvo client to the state. Nothing is contacted here: the client opens on first use."""
    settings = state.settings
    if settings.cleverinvo_base_url or settings.uses_sandbox:
        state.extras[PRINCIPAL_CLIENTS_KEY] = _PrincipalClients(state, stack)
    if settings.cleverinvo_base_url:
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=settings.timeout_seconds))

        async def remote() -> CleverInvoClient:
            try:
                return client_from_settings(settings, http)  # type: ignore[return-value]
            except ValueError as exc:  # no API key: say so on each call instead of failing start-up
                raise CleverInvoUnavailable(str(exc)) from None

        state.extras[EXTRA_KEY] = Lazy(remote)
    elif settings.uses_sandbox:

        async def sandbox() -> CleverInvoClient:
            await state.client.get()  # type: ignore[attr-defined]  # opens the embedded sandbox, sets state.http
            http = state.http
            assert http is not None
            from ..sandbox.cleverinvo.store import sandbox_api_key

            return client_from_settings(settings, http, sandbox_url=SANDBOX_HOST,  # type: ignore[return-value]
                                        sandbox_key=sandbox_api_key(settings.sandbox_db_path))

        state.extras[EXTRA_KEY] = Lazy(sandbox)


class _PrincipalClients:
    """Each principal's own CleverInvo client (`cleverinvo_api_key_env`: the variable holding its key), opened on
    its first use and kept for the lifespan: one customer's invoices never go through another's account."""

    def __init__(self, state: AppState, stack: AsyncExitStack) -> None:
        self.state, self.stack = state, stack
        self.clients: dict[tuple[str, str], Lazy[CleverInvoClient]] = {}

    def for_principal(self, principal: Principal) -> Lazy[CleverInvoClient]:
        env = principal.cleverinvo_api_key_env
        assert env is not None
        key = (principal.name, env)
        if key not in self.clients:
            self.clients[key] = Lazy(lambda: self._open(env))
        return self.clients[key]

    async def _open(self, env: str) -> CleverInvoClient:
        from pydantic import SecretStr

        api_key = (os.environ.get(env) or "").strip()
        if not api_key:
            # The variable's name only: never a key.
            raise CleverInvoUnavailable(f"This caller's CleverInvo account is not set up: the variable {env} "
                                        "named by its principal (cleverinvo_api_key_env) is empty on the server.")
        settings = self.state.settings
        if settings.cleverinvo_base_url:
            http = await self.stack.enter_async_context(httpx2.AsyncClient(timeout=settings.timeout_seconds))
            own = settings.model_copy(update={"cleverinvo_api_key": SecretStr(api_key)})
            return client_from_settings(own, http)  # type: ignore[return-value]
        await self.state.client.get()  # type: ignore[attr-defined]  # the embedded sandbox serves CleverInvo too
        http = self.state.http
        assert http is not None
        own = settings.model_copy(update={"cleverinvo_api_key": SecretStr(api_key)})
        return client_from_settings(own, http, sandbox_url=SANDBOX_HOST)  # type: ignore[return-value]


async def cleverinvo_client(state: AppState) -> CleverInvoClient:
    """The CleverInvo client of the request's principal: the server's account for a principal acting for every
    creditor; the principal's own account otherwise (one without is refused: the policy hides the toolset)."""
    principal = current_principal()
    if not principal.every_creditor:
        clients = state.extras.get(PRINCIPAL_CLIENTS_KEY)
        if clients is None:
            raise CleverInvoUnavailable("CleverInvo is not configured on this server.")
        if principal.cleverinvo_api_key_env is None:
            raise CleverInvoUnavailable("CleverInvo needs this caller's own account (cleverinvo_api_key_env in its "
                                        "principal).")
        return await clients.for_principal(principal).get()
    lazy = state.extras.get(EXTRA_KEY)
    if lazy is None:
        raise CleverInvoUnavailable("CleverInvo is not configured on this server.")
    return await lazy.get()


def _failure(exc: BaseException, *, tool: str, environment: str | None = None) -> CallToolResult:
    """CleverInvo errors in the shared error shape; anything else through the shared mapping. Write tools pass
    their environment (it is part of every write result)."""
    if isinstance(exc, CleverInvoUnavailable):
        return error_result(code="CLEVERINVO_NOT_CONFIGURED", message=str(exc), tool=tool, environment=environment)
    if isinstance(exc, NotRecoverableError):
        return error_result(code="NOT_RECOVERABLE", message="; ".join(exc.reasons), tool=tool,
                            environment=environment)
    if isinstance(exc, CleverInvoError):
        if isinstance(exc, NotFoundError):
            code = "CLEVERINVO_NOT_FOUND"
        elif isinstance(exc, AuthenticationError):
            code = "CLEVERINVO_UNAUTHORIZED"
        elif isinstance(exc, PlanLimitError):
            code = "CLEVERINVO_PLAN_LIMIT"
        elif isinstance(exc, RateLimitedError):
            code = "RATE_LIMITED"
        elif isinstance(exc, BadRequestError):
            code = "VALIDATION_ERROR"
        else:
            code = "CLEVERINVO_UNAVAILABLE"
        return error_result(code=code, message=f"CleverInvo: {exc.message}", tool=tool, environment=environment)
    return from_exception(exc, tool=tool, environment=environment)


# --- reading: through the real Cleavr client (the lazy stand-in forwards coroutines, not async iterators) ------
async def _cleavr(state: AppState) -> CleavrClient:
    return await state.client.get() if hasattr(state.client, "get") else state.client  # type: ignore[attr-defined]


async def _submitted(state: AppState, user_id: str | None) -> dict[str, Receivable]:
    return await submitted_receivables(await _cleavr(state), user_id)


async def _rates(state: AppState) -> RateTable:
    return await rate_table(await _cleavr(state))


async def _read_book(state: AppState, ci: CleverInvoClient, *, search: str | None, user_id: str | None) -> Book:
    return await read_book(ci, await _cleavr(state), search=search, user_id=user_id, today=date.today())


InvoiceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                 description="From list_overdue_invoices")]
CreditorId = Annotated[UserId, Field(description="The creditor owed the money")]


# --- list_overdue_invoices -----------------------------------------------------------------------------------
@tool(title="List overdue CleverInvo invoices", toolset=Toolset.CLEVERINVO, kind=Kind.READ, idempotent=True,
      open_world=False)
async def list_overdue_invoices(
    ctx: Context,
    min_days_overdue: int = Field(0, ge=0, le=100_000, description="Only invoices at least this many days past due"),
    client_search: str | None = Field(None, min_length=1, max_length=255,
                                      description="Client name, client email or invoice number fragment"),
    user_id: UserId | None = Field(None, description="The creditor, to spot invoices it already submitted"),
    limit: int = Field(50, ge=1, le=100, description="Recoverable rows per page"),
    cursor: str | None = Field(None, pattern=r"^\d{1,6}$", description="next_cursor from the previous page"),
) -> OverdueInvoicesView:
    """The user's past-due CleverInvo invoices: those Cleavr can recover now (days overdue, amount due, fee,
    phone or not), and apart those it cannot, with the reason (not EUR, no email, already submitted, nothing
    due). Creates nothing. Then: recover_invoices for a whole set, or recover_invoice for one."""
    state = state_of(ctx)
    try:
        ci = await cleverinvo_client(state)
        book = await _read_book(state, ci, search=client_search, user_id=user_id)
        recoverable, blocked = book.judge(min_days_overdue=min_days_overdue)
    except Exception as exc:  # noqa: BLE001
        return _failure(exc, tool="list_overdue_invoices")
    start = int(cursor or 0)
    page = recoverable[start:start + limit]
    more = start + limit < len(recoverable)
    total_due = money_sum(e.verdict.amount_due for e in recoverable)
    total_fee = money_sum(e.fee["commission_amount"] for e in recoverable)  # type: ignore[index]
    no_phone = sum(1 for e in recoverable if not e.has_phone)
    over = f" overdue ≥ {min_days_overdue} days" if min_days_overdue else ""
    totals = (f"{len(recoverable)} recoverable invoice(s){over}: {euros(total_due)} due, fee {euros(total_fee)} if "
              f"all recovered (you would receive {euros(total_due - total_fee)}); {no_phone} without a phone; "
              f"{len(blocked)} past-due invoice(s) cannot be recovered as they are.")
    if more:
        totals += f" Showing {start + 1}-{start + len(page)}: call again with cursor={start + limit}."
    if recoverable:
        step = (f"To recover them all, call recover_invoices with min_days_overdue={min_days_overdue} (one "
                "confirmation); for one invoice, recover_invoice.")
    else:
        step = "Nothing to recover with these filters."
    if any(e.fixable for e in blocked):
        step += " Blocked ones marked fixable can go through recover_invoice, which asks the user for what is missing."
    return OverdueInvoicesView(
        recoverable=[overdue_row(e) for e in page], not_recoverable=[blocked_row(e) for e in blocked[:limit]],
        totals=totals, recoverable_count=len(recoverable), total_due=total_due, total_fee=total_fee,
        next_cursor=str(start + limit) if more else None, next_step=step)


# --- read helpers ----------------------------------------------------------------------------------------------
@tool(title="Search CleverInvo clients", toolset=Toolset.CLEVERINVO, kind=Kind.READ, idempotent=True,
      open_world=False)
async def search_clients(
    ctx: Context,
    query: str | None = Field(None, min_length=1, max_length=255, description="Name or email fragment; omit for all"),
    limit: int = Field(20, ge=1, le=100),
) -> ClientSearchView:
    """Find the user's active CleverInvo clients by name or email: contact details, address and tax id
    (recognised as SIRET, SIREN, French VAT or foreign). Then use the name as client_search in
    list_overdue_invoices."""
    try:
        ci = await cleverinvo_client(state_of(ctx))
        page = await ci.list_clients(limit=limit, search=query)
    except Exception as exc:  # noqa: BLE001
        return _failure(exc, tool="search_clients")
    rows = [client_row(c) for c in page.data]
    more = " (more match: narrow the query)" if page.total > len(rows) else ""
    return ClientSearchView(clients=rows, total=f"{len(rows)} of {page.total} client(s){more}.")


@tool(title="Get a CleverInvo invoice", toolset=Toolset.CLEVERINVO, kind=Kind.READ, idempotent=True,
      open_world=False)
async def get_invoice(
    invoice_id: InvoiceId,
    ctx: Context,
) -> InvoiceView:
    """One CleverInvo invoice in full: lines, totals, what is still due, whether Cleavr can recover it (or why
    not, or the receivable it already became) and the fee. The invoice's notes and terms are free text, shown as
    data."""
    state = state_of(ctx)
    try:
        ci = await cleverinvo_client(state)
        inv = await ci.get_invoice(invoice_id)
        submitted = await _submitted(state, None)
        rates = await _rates(state)
    except Exception as exc:  # noqa: BLE001
        return _failure(exc, tool="get_invoice")
    entry = judge_invoice(inv, submitted, date.today())
    verdict = entry.verdict
    fee_preview = None
    if (quote := fee_quote(verdict, rates, entry.age_days)) is not None:
        fee_preview = (f"{quote['rate_percentage']:.2f} % = {euros(quote['commission_amount'])}, "
                       f"you receive {euros(quote['net_recovery'])}")
    if verdict.recoverable:
        step = "Recoverable: call recover_invoice with this invoice_id (the user confirms first)."
    elif entry.receivable is not None:
        step = f"Already on Cleavr: call get_receivable with {entry.receivable.id}."
    elif entry.fixable:
        step = "Call recover_invoice: it asks the user for what is missing."
    else:
        step = "Cannot be recovered: see reasons."
    return invoice_view(inv, entry, fee_preview=fee_preview, next_step=step)


# --- recover_invoice -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneInvoice:
    today: date
    invoice: Invoice
    client: Client | None
    existing: Receivable | None

    def digest(self) -> str:
        """What the human confirms is about this data: a token for it is refused if CleverInvo changed since."""
        return payload_digest({"invoice": self.invoice.model_dump(mode="json"),
                               "client": self.client.model_dump(mode="json") if self.client else None,
                               "today": self.today.isoformat()})


@dataclass(frozen=True)
class AlreadySubmitted:
    """The resolver's answer when the invoice is already on Cleavr: nothing to ask, nothing to send."""

    receivable: Receivable


async def _onboarded(state: AppState, user_id: str, tool_name: str) -> CallToolResult | None:
    status = await state.client.get_onboarding_status(user_id)
    if status.capabilities.send_receivables:
        return None
    return error_result(code="USER_NOT_ONBOARDED", environment=state.environment.value, tool=tool_name,
                        message=f"Creditor {user_id} has not completed onboarding (status {status.status.value}).",
                        details={"onboarding_url": status.onboarding_url})


async def _load_one(invoice_id: str, user_id: str, ctx: Context) -> OneInvoice | Failed:
    """Read the invoice, its client and what Cleavr already has (once per round; shared by question and body)."""
    state = state_of(ctx)
    try:
        ci = await cleverinvo_client(state)
        invoice = await ci.get_invoice(invoice_id)
        existing = (await _submitted(state, user_id)).get(invoice.id)
        if existing is not None:
            return OneInvoice(date.today(), invoice, None, existing)
        try:
            client = await ci.get_client(invoice.client_id)
        except NotFoundError:
            client = None
        refused = await _onboarded(state, user_id, "recover_invoice")
        if refused is not None:
            return Failed(refused)
    except Exception as exc:  # noqa: BLE001 - reported by the body
        return Failed(_failure(exc, tool="recover_invoice", environment=state.environment.value))
    return OneInvoice(date.today(), invoice, client, None)


async def _ask_recover(
    invoice_id: str,
    user_id: str,
    amount_due: Decimal | None,
    debtor_email: str | None,
    debtor_phone: str | None,
    loaded: Annotated[Any, Resolve(_load_one)],
    ctx: Context,
) -> Any:
    """The human's question: debtor, invoice, amount still due, quote; a missing email/phone/amount in the form."""
    if isinstance(loaded, Failed):
        return loaded
    if loaded.existing is not None:
        return AlreadySubmitted(loaded.existing)
    state = state_of(ctx)
    inv, client, today = loaded.invoice, loaded.client, loaded.today
    verdict = assess(inv, client or inv.client, today, amount_due=amount_due)
    hard = hard_reasons(verdict)
    bad_arg = contact_problem(debtor_email, debtor_phone, client)
    if bad_arg is not None:
        field_name, problem = bad_arg
        return Failed(error_result(code="VALIDATION_ERROR", environment=state.environment.value, field=field_name,
                                   tool="recover_invoice", message=f"{problem} Nothing was sent.",
                                   next_step=f"Check the {field_name} with the user and call recover_invoice again."))
    if amount_due is not None and amount_due > inv.total:
        return Failed(error_result(code="VALIDATION_ERROR", environment=state.environment.value, field="amount_due",
                                   tool="recover_invoice", message=(
            f"amount_due {euros(amount_due)} is more than the invoice total {euros(inv.total)}. Nothing was sent.")))
    if hard:
        return Failed(error_result(code="NOT_RECOVERABLE", environment=state.environment.value, tool="recover_invoice",
                                   message=f"Invoice {inv.invoice_number} cannot be recovered: " + "; ".join(hard)))
    ask_amount = amount_needs_confirming(inv, amount_due)
    due = verdict.amount_due  # the argument, else what CleverInvo says (None: unknown)
    mapped = to_receivable(inv, client, user_id=user_id, today=today, amount_due=due, email=debtor_email,
                           phone=debtor_phone)
    refusal = cleavr_refusal(mapped)
    if refusal is not None:
        return Failed(error_result(code="NOT_RECOVERABLE", environment=state.environment.value,
                                   tool="recover_invoice", message=(
            f"Invoice {inv.invoice_number}: the CleverInvo data would be refused by Cleavr ({refusal}). Nothing was "
            "sent."), next_step="Ask the user to correct the client or invoice in CleverInvo, then call "
            "recover_invoice again."))
    try:
        if due is not None:
            request = CommissionQuoteRequest(amount=due, invoice_date=inv.issue_date)
            fee = await state.client.calculate_commission(request)
            commission = quote(fee.rate_percentage, fee.commission_amount, fee.net_recovery, fee.rate_tier)
        else:
            rate, tier = (await _rates(state)).rate(debt_age(inv, today))
            commission = quote(rate, None, None, tier)
    except Exception as exc:  # noqa: BLE001
        return Failed(from_exception(exc, tool="recover_invoice", environment=state.environment.value))
    return ask(ctx, recover_question(state.environment.value, inv, verdict, mapped, due=due, ask_amount=ask_amount,
                                     commission=commission))


async def _replay(ctx: Context, tool_name: str, payload: dict[str, Any], user_id: str, rec: Receivable,
            number: str, invoice_id: str) -> RecoverOutcome:
    state = state_of(ctx)
    await record_known_result(ctx, tool=tool_name, payload=payload, result_id=rec.id, user_id=user_id)
    return RecoverOutcome(
        status="done", environment=state.environment.value, idempotent_replay=True, invoice_id=invoice_id,
        invoice_number=number, receivable=receivable_summary(rec), amount_recovered=rec.amount,
        message=f"CleverInvo invoice {number} was already submitted as {rec.id} ({rec.status.value}). "
        "Nothing new was sent.",
        next_step=f"Follow it with get_receivable {rec.id}.")


@tool(title="Recover a CleverInvo invoice", toolset=Toolset.CLEVERINVO, kind=Kind.WRITE, money=True, idempotent=True,
      open_world=True)
async def recover_invoice(
    invoice_id: InvoiceId,
    user_id: CreditorId,
    ctx: Context,
    loaded: Annotated[Any, Resolve(_load_one)],
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_recover)],
    amount_due: PositiveMoney | None = Field(
        None, description="Only for a partially paid invoice, when the user told you what is still due (EUR)"),
    debtor_email: str | None = Field(None, max_length=254,
                                     description="Only when the client has no email and the user gave you one"),
    debtor_phone: str | None = Field(None, max_length=40,
                                     description="Only when the client has no phone and the user gave you one"),
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> RecoverOutcome:
    """Send one overdue CleverInvo invoice (its id from list_overdue_invoices) to Cleavr for debt recovery. The
    user confirms debtor, amount and fee, and gives then what is missing (email, phone, amount still due). A
    repeat returns the receivable already made, never a second one. For many invoices: recover_invoices."""
    state = state_of(ctx)
    tool_name = "recover_invoice"
    args = {"invoice_id": invoice_id, "user_id": user_id,
            "amount_due": f"{amount_due:.2f}" if amount_due is not None else None,
            "debtor_email": debtor_email, "debtor_phone": debtor_phone}
    if isinstance(answer, AcceptedElicitation) and isinstance(answer.data, AlreadySubmitted):
        return await _replay(ctx, tool_name, args, user_id, answer.data.receivable, loaded.invoice.invoice_number,
                       invoice_id)
    payload = {**args, "cleverinvo_data": loaded.digest() if isinstance(loaded, OneInvoice) else None}
    decision = await approve(ctx, tool=tool_name, answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=RecoverOutcome, user_id=user_id)
    if isinstance(decision, Stop):
        return decision.result
    assert isinstance(loaded, OneInvoice)
    inv, client = loaded.invoice, loaded.client
    answers = decision.answers

    def invalid(field_name: str, message: str, step: str) -> CallToolResult:
        return error_result(code="VALIDATION_ERROR", environment=state.environment.value, field=field_name,
                            tool=tool_name, message=message + " Nothing was sent.",
                            next_step=step)

    amount = amount_due
    if "amount_due" in answers:
        amount = parse_amount(str(answers["amount_due"]))
        if amount is None or amount <= 0 or amount > inv.total:
            return invalid("amount_due", f"The amount still due entered ({answers['amount_due']!r}) must be a positive "
                           f"amount of at most the invoice total {euros(inv.total)}.",
                           "Call recover_invoice again and enter the amount still due, e.g. 3290.00.")
    phone = (answers.get("phone") or "").strip() or debtor_phone
    if phone:
        normalised = normalize_phone(phone, debtor_country(client))
        if normalised is None:
            return invalid("phone", f"The phone number given ({phone}) is not a valid number.",
                           "Call recover_invoice again with the phone in international form (+33…).")
        phone = normalised
    email = (answers.get("email") or "").strip() or debtor_email
    try:
        mapped = to_receivable(inv, client, user_id=user_id, today=loaded.today, amount_due=amount, email=email,
                               phone=phone)
    except NotRecoverableError as exc:
        return _failure(exc, tool=tool_name, environment=state.environment.value)
    if "email" in mapped.missing:
        return error_result(code="DEBTOR_EMAIL_NEEDED", environment=state.environment.value, tool=tool_name,
                            field="debtor_email",
                            message="No debtor email was given; Cleavr requires one. Nothing was sent.")
    if "amount_due" in mapped.missing:
        return error_result(code="AMOUNT_DUE_NEEDED", environment=state.environment.value, tool=tool_name,
                            field="amount_due",
                            message="The amount still due is unknown. Nothing was sent.")
    without_phone = "phone" in mapped.missing
    if without_phone and not answers.get("proceed_without_phone"):
        return RecoverOutcome(status="declined", environment=state.environment.value, invoice_id=invoice_id,
                              invoice_number=inv.invoice_number,
                              message="No phone was given and the user did not choose to proceed without one. "
                              "Nothing was sent.", next_step="Ask the user for the debtor's phone number.")
    try:
        create: ReceivableCreate = mapped.to_model(force_proceed=True if without_phone else None)
    except ValidationError as exc:
        return from_exception(exc, tool=tool_name, environment=state.environment.value)
    key = idempotency_key_for_invoice(inv.id, user_id)
    result = await execute(ctx, tool=tool_name, payload=payload, approval=decision,
                           call=lambda: state.client.submit_receivable(create, idempotency_key=key),
                           result_id=lambda r: r.value.id, user_id=user_id)
    if isinstance(result, CallToolResult):
        return result
    rec = result.value
    summary = (f"{rec.commission.rate:.2f} % = {euros(rec.commission.amount)}, "
               f"you receive {euros(rec.amount - rec.commission.amount)}") if rec.commission else None
    verb = "was already submitted as" if result.replayed else "is now"
    return RecoverOutcome(
        status="done", environment=state.environment.value, idempotent_replay=result.replayed, invoice_id=inv.id,
        invoice_number=inv.invoice_number, receivable=receivable_summary(rec), amount_recovered=rec.amount,
        commission_summary=summary, submitted_without_phone=without_phone, notes=mapped.notes,
        message=f"CleverInvo invoice {inv.invoice_number} {verb} receivable {rec.id}: {euros(rec.amount)} owed by "
        f"{rec.debtor.company_name} (status {rec.status.value}).",
        next_step=f"Follow it with get_receivable {rec.id} (or list_receivables).")


# --- recover_invoices --------------------------------------------------------------------------------------------
async def _load_many(user_id: str, min_days_overdue: int, client_search: str | None, ctx: Context) -> Plan | Failed:
    state = state_of(ctx)
    try:
        ci = await cleverinvo_client(state)
        book = await _read_book(state, ci, search=client_search, user_id=user_id)
        recoverable, blocked = book.judge(min_days_overdue=min_days_overdue)
        if recoverable:
            refused = await _onboarded(state, user_id, "recover_invoices")
            if refused is not None:
                return Failed(refused)
    except Exception as exc:  # noqa: BLE001
        return Failed(_failure(exc, tool="recover_invoices", environment=state.environment.value))
    return Plan.of(book, min_days_overdue, recoverable, blocked)


@dataclass(frozen=True)
class NothingToSend:
    plan: Plan


async def _ask_many(loaded: Annotated[Any, Resolve(_load_many)], ctx: Context) -> Any:
    if isinstance(loaded, Failed):
        return loaded
    plan: Plan = loaded
    if not plan.to_send:
        return NothingToSend(plan)
    return ask(ctx, batch_question(state_of(ctx).environment.value, plan))


_REC_ID = re.compile(r"\brec_[A-Za-z0-9_]+")


@tool(title="Recover overdue CleverInvo invoices in bulk", toolset=Toolset.CLEVERINVO, kind=Kind.WRITE, money=True,
      idempotent=True, open_world=True)
async def recover_invoices(
    user_id: CreditorId,
    ctx: Context,
    loaded: Annotated[Any, Resolve(_load_many)],
    answer: Annotated[ElicitationResult[Any], Resolve(_ask_many)],
    min_days_overdue: int = Field(45, ge=0, le=100_000, description="Only invoices at least this many days past due"),
    client_search: str | None = Field(None, min_length=1, max_length=255,
                                      description="Only invoices whose client name/email or number matches"),
    confirmation_token: str | None = Field(None, description=TOKEN_DESCRIPTION),
) -> RecoverInvoicesOutcome:
    """Send every recoverable CleverInvo invoice matching the filters (default: 45+ days overdue) to Cleavr,
    after list_overdue_invoices. The user confirms once (count, total, fee); invoices without a phone go only if
    they agree. One result per invoice (submitted, already_submitted, skipped with why, failed); use
    recover_invoice for those missing an email. Safe to repeat: never sent twice."""
    state = state_of(ctx)
    tool_name = "recover_invoices"
    args = {"user_id": user_id, "min_days_overdue": min_days_overdue, "client_search": client_search}
    if isinstance(answer, AcceptedElicitation) and isinstance(answer.data, NothingToSend):
        return nothing_to_send(state.environment.value, answer.data.plan)
    payload = {**args, "selection": loaded.fingerprint() if isinstance(loaded, Plan) else None}
    decision = await approve(ctx, tool=tool_name, answer=answer, payload=payload,
                             confirmation_token=confirmation_token, outcome=RecoverInvoicesOutcome, user_id=user_id)
    if isinstance(decision, Stop):
        return decision.result
    plan: Plan = loaded
    proceed_without_phone = bool(decision.answers.get("proceed_without_phone"))
    results: dict[int, InvoiceRecoveryResult] = {}
    order = plan.to_send + plan.already + plan.skipped
    for i, e in enumerate(order):
        if e.receivable is not None or i >= len(plan.to_send):
            results[i] = left_out_result(i, e)

    sending = [(i, e) for i, e in enumerate(plan.to_send) if e.has_phone or proceed_without_phone]
    for i, e in enumerate(plan.to_send):
        if not (e.has_phone or proceed_without_phone):
            results[i] = recovery_result(i, e, "skipped",
                                         reason="No debtor phone and the user chose not to proceed without one.")
    # Progress: one step per invoice read from CleverInvo, one per batch sent to Cleavr.
    steps = len(sending) + -(-len(sending) // BATCH_CHUNK)
    ci = await cleverinvo_client(state)
    read_full = len(sending) <= FULL_INVOICE_READS
    prepared: list[tuple[int, Entry, ReceivableCreate]] = []
    for done, (i, e) in enumerate(sending, 1):
        try:
            # The full invoice's line items become the service description.
            source = await ci.get_invoice(e.invoice.id) if read_full else e.invoice
            mapped = to_receivable(source, e.client, user_id=user_id, today=plan.book.today)
            if mapped.receivable["invoice"]["amount"] != e.verdict.amount_due:
                results[i] = recovery_result(i, e, "skipped", reason="The invoice changed in CleverInvo since the "
                                             "confirmation; run recover_invoices again.")
            else:
                prepared.append((i, e, mapped.to_model(force_proceed=True if not e.has_phone else None)))
        except NotRecoverableError as exc:
            results[i] = recovery_result(i, e, "skipped", reason="; ".join(exc.reasons))
        except ValidationError as exc:
            results[i] = recovery_result(i, e, "failed", reason=str(exc.errors(include_input=False)[0]["msg"]),
                                         error_code="VALIDATION_ERROR")
        except CleverInvoError as exc:
            results[i] = recovery_result(i, e, "failed", reason=f"CleverInvo: {exc.message}",
                                         error_code="CLEVERINVO_ERROR")
        await ctx.report_progress(done, steps,
                                  f"Read {e.invoice.invoice_number} from CleverInvo ({done}/{len(sending)})")

    duplicates: list[int] = []
    chunks = [prepared[k:k + BATCH_CHUNK] for k in range(0, len(prepared), BATCH_CHUNK)]
    for number, chunk in enumerate(chunks, 1):
        request = BatchRequest(receivables=[create for _, _, create in chunk])
        sent = await execute(ctx, tool=tool_name, payload=payload, approval=decision,
                             call=lambda request=request: state.client.submit_batch(request),
                             result_id=lambda r: ",".join(s.id for s in r.value.successful)[:500], user_id=user_id)
        if isinstance(sent, CallToolResult):
            error = error_of(sent)
            for i, e, _ in chunk:
                results[i] = recovery_result(i, e, "failed", reason=error.get("message"), error_code=error.get("code"))
        else:
            for ok in sent.value.successful:
                i, e, _ = chunk[ok.index]
                results[i] = recovery_result(
                    i, e, "already_submitted" if sent.replayed else "submitted", receivable_id=ok.id,
                    reason="replayed: this exact batch was already sent" if sent.replayed else None)
            for bad in sent.value.failed:
                i, e, _ = chunk[bad.index]
                if bad.error == "DUPLICATE_RECEIVABLE":
                    found = _REC_ID.search(bad.message)
                    results[i] = recovery_result(i, e, "already_submitted",
                                                 receivable_id=found.group(0) if found else None, reason=bad.message)
                    if found is None:
                        duplicates.append(i)
                else:
                    results[i] = recovery_result(i, e, "failed", reason=bad.message, error_code=bad.error)
        await ctx.report_progress(len(sending) + number, steps, f"Sent batch {number} of {len(chunks)} to Cleavr")
    if duplicates:  # a duplicate found without its id: look it up by invoice id
        try:
            by_invoice = await _submitted(state, user_id)
            for i in duplicates:
                rec = by_invoice.get(results[i].invoice_id)
                if rec is not None:
                    results[i] = results[i].model_copy(update={"receivable_id": rec.id})
        except Exception:  # noqa: BLE001 - the outcome stands; only the id is missing
            pass
    if len(chunks) < steps - len(sending):  # some invoices dropped out: close the progress bar
        await ctx.report_progress(steps, steps, "Done")

    return batch_outcome(state.environment.value, [results[i] for i in sorted(results)], order,
                         lines_read=read_full, full_reads=FULL_INVOICE_READS)
