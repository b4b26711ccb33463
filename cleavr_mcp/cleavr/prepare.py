"""Local checks and normalisation of a receivable before it is sent (pure: no I/O).

The API would refuse the same things; refusing them here is faster, costs no request, and gives a message that
says what to fix. Codes and fields are the API's own (contract §4.1, §7), so callers handle one vocabulary.
"""

from __future__ import annotations

from .contract import CURRENCY, ErrorCode
from .errors import CleavrValidationError
from .models import Contact, ReceivableCreate
from .validation import digits, is_valid_fr_vat, is_valid_siret, normalize_phone


def has_email(req: ReceivableCreate) -> bool:
    return any(c.email for c in req.debtor.contacts)


def has_phone(req: ReceivableCreate) -> bool:
    return any(c.phone and c.phone.strip() for c in req.debtor.contacts)


def prepare_receivable(req: ReceivableCreate) -> ReceivableCreate:
    """A normalised copy of `req` (E.164 phones, clean SIRET/VAT, upper-case currency), or CleavrValidationError."""
    invoice, debtor = req.invoice, req.debtor

    currency = invoice.currency.strip().upper()
    if currency != CURRENCY:
        raise CleavrValidationError(
            f"Currency {invoice.currency!r} is not accepted: Cleavr only recovers amounts in EUR. "
            "Convert the amounts to EUR and set currency to EUR.",
            code=ErrorCode.INVALID_CURRENCY, field="invoice.currency",
        )

    if invoice.amount_before_tax is not None and invoice.tax_amount is not None:
        expected = invoice.amount_before_tax + invoice.tax_amount
        if invoice.amount != expected:
            raise CleavrValidationError(
                f"amount {invoice.amount} does not equal amount_before_tax {invoice.amount_before_tax} + tax_amount "
                f"{invoice.tax_amount} = {expected}. amount is the total including tax: correct whichever figure "
                "differs from the invoice.",
                code=ErrorCode.AMOUNT_MISMATCH, field="invoice.amount",
            )

    if invoice.due_date < invoice.issue_date:
        raise CleavrValidationError(
            f"due_date {invoice.due_date} is before issue_date {invoice.issue_date}. Check both dates on the invoice.",
            code=ErrorCode.INVALID_DATES, field="invoice.due_date",
        )

    seen: set[str] = set()
    for i, number in enumerate(invoice.numbers):
        if number in seen:
            raise CleavrValidationError(
                f"Invoice number {number!r} is listed twice: list each invoice once.",
                code=ErrorCode.VALIDATION_ERROR, field=f"invoice.numbers[{i}]",
            )
        seen.add(number)

    if not has_email(req):
        raise CleavrValidationError(
            "No debtor contact has an email address, and Cleavr rejects receivables without one. Ask for the "
            "debtor's email and add it to a contact (preferably the primary one).",
            code=ErrorCode.MISSING_EMAIL_CONTACT, field="debtor.contacts[0].email",
        )

    siret = None
    if debtor.siret is not None and debtor.siret.strip():
        siret = digits(debtor.siret)
        if not is_valid_siret(siret):
            hint = (
                " That looks like a SIREN (9 digits); a SIRET is the SIREN followed by the 5-digit establishment number."
                if len(siret) == 9 and siret.isdigit() else ""
            )
            raise CleavrValidationError(
                f"SIRET {debtor.siret!r} is not valid: it must be 14 digits with a valid checksum.{hint} "
                "Check it on the invoice or on annuaire-entreprises.data.gouv.fr, or leave it out.",
                code=ErrorCode.INVALID_SIRET, field="debtor.siret",
            )

    vat = None
    if debtor.vat_number is not None and debtor.vat_number.strip():
        vat = digits(debtor.vat_number).upper()
        if not is_valid_fr_vat(vat):
            # The contract (§1) knows French VAT numbers only; a foreign debtor is submitted without one.
            raise CleavrValidationError(
                f"VAT number {debtor.vat_number!r} is not valid: Cleavr expects a French VAT number, FR + a "
                "2-character key + the 9-digit SIREN (e.g. FR40303265045), whose key matches. Correct it, or leave "
                "it out (for a non-French debtor too).",
                code=ErrorCode.VALIDATION_ERROR, field="debtor.vat_number",
            )

    # National numbers are read in the debtor's country (France unless the address says otherwise).
    region = (debtor.address.country if debtor.address else None) or "FR"
    contacts: list[Contact] = []
    for i, contact in enumerate(debtor.contacts):
        phone = contact.phone.strip() if contact.phone else None
        if phone:
            e164 = normalize_phone(phone, region)
            if e164 is None:
                raise CleavrValidationError(
                    f"Phone number {contact.phone!r} of contact {i} is not a valid phone number. Give it in "
                    "international form (+33612345678) or French national form (06 12 34 56 78), or remove it.",
                    code=ErrorCode.VALIDATION_ERROR, field=f"debtor.contacts[{i}].phone",
                )
            phone = e164
        contacts.append(contact if phone == contact.phone else contact.model_copy(update={"phone": phone}))

    return req.model_copy(
        update={
            "invoice": invoice.model_copy(update={"currency": currency}),
            "debtor": debtor.model_copy(update={"siret": siret, "vat_number": vat, "contacts": contacts}),
        }
    )
