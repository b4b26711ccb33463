"""The questions the CleverInvo write tools put to the human before anything is sent: the chat message, the
approval page's view and the form for what is missing. Built from the data the resolver read, so what is sent is
what was shown; CleverInvo's text goes through `visible` (one visible line, whatever it holds)."""

from __future__ import annotations

from decimal import Decimal

from ..cleavr.contract import MISSING_PHONE_MESSAGE
from ..cleverinvo import Invoice, InvoiceStatus
from ..cleverinvo.mapping import Assessment, Blocker, MappedReceivable, Note
from ..domain.approval import Fact, Money, Percent, Phrase, Value, View, show, visible
from ..domain.invoice_book import INVALID_DATA, Plan, count_with, money_sum
from ..toolkit.confirm import Question
from .forms import Confirm, ConfirmBatch, recovery_form
from .shapes import euros


def debtor_line(mapped: MappedReceivable) -> str:
    """The debtor in one line: company (SIRET or VAT), email, phone, address."""
    debtor = mapped.receivable["debtor"]
    ident = (f" (SIRET {debtor['siret']})" if debtor.get("siret") else
             f" (VAT {debtor['vat_number']})" if debtor.get("vat_number") else "")
    contact = (debtor.get("contacts") or [{}])[0]
    parts = [p for p in (contact.get("email"), contact.get("phone")) if p]
    address = debtor.get("address")
    if address:
        parts.append(f"{address['line1']}, {address['postal_code']} {address['city']} {address['country']}")
    return f"{debtor['company_name']}{ident}" + (f" — {', '.join(parts)}" if parts else "")


def recover_question(environment: str, inv: Invoice, verdict: Assessment, mapped: MappedReceivable, *,
                     due: Decimal | None, ask_amount: bool, commission: Phrase) -> Question:
    """recover_invoice's question: debtor, invoice, amount still due, the quote (`commission`, domain.approval.quote);
    a missing email, phone or amount asked in the form (`due` None: unknown, the user must enter it). The page's
    notes are the message's, typed (money, phrases) so that the page shows them in the reader's language."""
    need_email = "email" in mapped.missing
    need_phone = "phone" in mapped.missing
    number = visible(inv.invoice_number, limit=80)  # CleverInvo data: one visible line, whatever it holds
    lines = [
        f"Send CleverInvo invoice {number} to Cleavr for debt recovery ({environment})?",
        f"Debtor: {visible(debtor_line(mapped), limit=400)}",
        f"Invoice {number}: {euros(inv.total)} incl. tax, issued {inv.issue_date}, due {inv.due_date} "
        f"({verdict.days_overdue} days overdue), status {verdict.status} in CleverInvo",
    ]
    facts = [Fact("Environment", environment), Fact("Debtor", debtor_line(mapped)),
             Fact("Invoice", inv.invoice_number), Fact("Amount incl. tax", Money(inv.total)),
             Fact("Issued", inv.issue_date.isoformat()), Fact("Due", inv.due_date.isoformat()),
             Fact("Days overdue", str(verdict.days_overdue)), Fact("Status", str(verdict.status))]
    page_notes: list[Value] = []
    if ask_amount:
        if inv.amount_due is not None:
            label = "Partially paid" if inv.status == InvoiceStatus.PARTIALLY_PAID else "Payments"
            page_notes.append(Phrase(f"{label}: CleverInvo says {{paid}} of {{total}} was paid, so {{due}} is still due.",
                                     {"paid": Money(inv.total - inv.amount_due), "total": Money(inv.total),
                                      "due": Money(inv.amount_due)}))
        else:
            page_notes.append("Partially paid: CleverInvo does not say how much was paid.")
        page_notes.append(Phrase("Amount Cleavr would recover: {due}.", {"due": Money(due)}) if due is not None
                          else "Enter the amount still due below.")
    lines += [show(note) for note in page_notes]
    lines.append(f"Commission: {show(commission)}")
    facts.append(Fact("Commission", commission))
    shown_notes = [n for n in mapped.notes if not n.startswith("Partially paid")]
    lines += [visible(n, limit=400) for n in shown_notes]
    # A mapping note is server text around CleverInvo data: a phrase whose slots are that data.
    page_notes += [Phrase(n.template, dict(n.values)) if isinstance(n, Note) else visible(n, limit=400)
                   for n in shown_notes]
    if need_email:
        lines.append("No debtor email: Cleavr requires one — enter it below.")
        page_notes.append("No debtor email: Cleavr requires one; enter it below.")
    if need_phone:
        lines.append(f"No debtor phone. {MISSING_PHONE_MESSAGE} Give a phone, or agree to proceed without one.")
        page_notes.append(f"No debtor phone. {MISSING_PHONE_MESSAGE} Enter a phone, or choose to proceed without one.")
    blocking = None
    if need_email:
        blocking = ("DEBTOR_EMAIL_NEEDED", f"The client of invoice {inv.invoice_number} has no email in CleverInvo "
                    "and this client cannot show a form. Nothing was sent.")
    elif due is None:
        blocking = ("AMOUNT_DUE_NEEDED", f"Invoice {inv.invoice_number} is partially paid and CleverInvo does not say "
                    "how much is still due. Nothing was sent.")
    form = recovery_form(need_email=need_email, need_phone=need_phone, ask_amount=ask_amount,
                         amount_due=f"{due:.2f}" if due is not None else None)
    view = View(title="Recover this CleverInvo invoice through Cleavr?", facts=tuple(facts), notes=tuple(page_notes),
                ask_email=need_email, ask_phone=need_phone,
                ask_amount=(f"{due:.2f}" if due is not None else "") if ask_amount else None,
                ask_amount_required=ask_amount)
    return Question(message="\n".join(lines), form=form, blocking=blocking, view=view)


def batch_question(environment: str, plan: Plan) -> Question:
    """recover_invoices' one question: count, total, fee, a row per invoice, and what is not sent and why."""
    total = money_sum(e.verdict.amount_due for e in plan.to_send)
    fees = money_sum(e.fee["commission_amount"] for e in plan.to_send)  # type: ignore[index]
    over = f" overdue ≥ {plan.min_days_overdue} days" if plan.min_days_overdue else ""
    lines = [f"Send {len(plan.to_send)} CleverInvo invoice(s){over} to Cleavr for debt recovery "
             f"({environment})?",
             f"Total {euros(total)} still due; commission if all recovered {euros(fees)}; you would receive "
             f"{euros(total - fees)}."]
    rows = tuple((e.invoice.invoice_number, e.client_name, Money(e.verdict.amount_due or Decimal(0)),
                  str(e.verdict.days_overdue), Percent(e.fee["rate_percentage"]),  # type: ignore[index]
                  "✓" if e.has_phone else "—") for e in plan.to_send)
    notes: list[Value] = []  # the message's notes, typed for the page
    for e in plan.to_send[:30]:
        due, rate = e.verdict.amount_due, e.fee["rate_percentage"]  # type: ignore[index]
        assert due is not None
        flag = "" if e.has_phone else " (no phone)"
        if due != e.verdict.total:
            flag += f" (partially paid: {euros(due)} of {euros(e.verdict.total)} still due)"
        lines.append(f"- {visible(e.invoice.invoice_number, limit=80)} {visible(e.client_name, limit=120)}: {euros(due)}, "
                     f"{e.verdict.days_overdue} days overdue, fee {rate:.2f} %{flag}")
    if len(plan.to_send) > 30:
        lines.append(f"- … and {len(plan.to_send) - 30} more")
    if plan.no_phone:
        notes.append(Phrase(f"{{count}} have no debtor phone. {MISSING_PHONE_MESSAGE} They are sent only if you "
                            "agree to proceed without a phone; otherwise they are skipped.",
                            {"count": len(plan.no_phone)}))
    if plan.skipped:
        why: dict[str, Value] = {}
        for code, label in ((Blocker.NOT_EUR, "not in EUR"), (Blocker.NO_EMAIL, "without a client email"),
                            (Blocker.AMOUNT_UNKNOWN, "with an unknown amount due"),
                            (Blocker.ZERO_DUE, "with nothing due"), (INVALID_DATA, "with data Cleavr would refuse")):
            if n := count_with(plan.skipped, code):
                why[f"reason{len(why)}"] = Phrase(f"{{count}} {label}", {"count": n})
        reasons = Phrase(", ".join(f"{{{name}}}" for name in why), why) if why else Phrase("see results")
        notes.append(Phrase("Not sent: {count} that cannot be recovered as they are ({reasons}).",
                            {"count": len(plan.skipped), "reasons": reasons}))
    if plan.already:
        notes.append(Phrase("Already on Cleavr, not sent again: {count}.", {"count": len(plan.already)}))
    lines += [show(note) for note in notes]
    view = View(title="Recover these CleverInvo invoices through Cleavr?", facts=(
        Fact("Environment", environment), Fact("Invoice(s)", str(len(plan.to_send))),
        Fact("Total", Money(total)), Fact("Commission if all recovered", Money(fees)),
        Fact("You receive", Money(total - fees))),
        columns=("Invoice", "Client", "Amount", "Days overdue", "Fee", "Phone"), rows=rows,
        notes=tuple(notes), batch_without_phone=len(plan.no_phone))
    return Question(message="\n".join(lines), form=ConfirmBatch if plan.no_phone else Confirm, view=view)
