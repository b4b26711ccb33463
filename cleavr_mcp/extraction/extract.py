"""From layout text to the contract's extraction: fields, per-field and overall confidence, missing fields, warnings.

Confidence formula
------------------
Per field (0..1):
  * start: the label's strength — 0.92 specific label (`Total TTC`, `Date d'échéance`, `Bill to`), 0.85/0.75 for
    ambiguous ones (`Invoice`, `Total`, `Date`), 0.6 for a contact email found by a generic contact label, 0.5 for
    an unlabelled guess (debtor taken from the right-most address block);
  * × 0.96 when the value sat under its label (table header) instead of beside it;
  * × 0.95 when the text came from OCR;
  * cross-checks: amount = amount_before_tax + tax_amount to the cent → the three become ≥ 0.97, a mismatch → × 0.6
    and a warning; due_date ≥ issue_date → both + 0.05 (≤ 0.98), otherwise × 0.6 and a warning; SIRET / VAT
    checksum right → ≥ 0.97, wrong → ≤ 0.5 and a warning; currency written on the total's line 0.95, only
    elsewhere in the document 0.75.
Overall = 0.5 × mean + 0.5 × min over the required fields (numbers, issue_date, due_date, amount, currency,
debtor.company_name, debtor.contacts[0].email), a missing one counting 0 — so one missing field pulls the overall
to ≤ 0.5 — and capped at 0.75 when any cross-check failed. Hence "< 0.8 → review" (the guide's rule) fires
exactly when something required is missing, unsure or inconsistent.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal
from typing import Any

from cleavr_mcp.cleavr.validation import (
    is_valid_fr_vat,
    is_valid_siren,
    is_valid_siret,
    normalize_phone,
)

from . import labels as L
from .fields import (
    LEGAL_FORM_RE,
    UNLABELLED,
    Candidate,
    DebtorFinder,
    FieldFinder,
    late_penalty_rate,
    parse_block,
)
from .layout import Document
from .parsing import detect_language, find_currencies, numeric_date_order

REQUIRED_FIELDS = (
    "invoice.numbers",
    "invoice.issue_date",
    "invoice.due_date",
    "invoice.amount",
    "invoice.currency",
    "debtor.company_name",
    "debtor.contacts[0].email",
)
RECOMMENDED_FIELDS = ("debtor.contacts[0].phone",)
OCR_FACTOR = 0.95
CHECKED = 0.97
FAILED_FACTOR = 0.6
CROSS_CHECK_FAILED_CAP = 0.75
CENT = Decimal("0.01")
DISAGREEING_LABELS_CAP = 0.85
UNCONFIRMED_NAME_CAP = 0.85


def _best(cands: list[Candidate]) -> Candidate | None:
    # Highest confidence; among equals the later one (totals and last subtotals close an invoice).
    return max(cands, key=lambda c: (c.confidence, c.line)) if cands else None


def _top_group(cands: list[Candidate], width: float = 0.05) -> list[Candidate]:
    if not cands:
        return []
    top = max(c.confidence for c in cands)
    return [c for c in cands if c.confidence >= top - width]


class _Result:
    def __init__(self, ocr: bool):
        self.ocr = ocr
        self.invoice: dict[str, Any] = {}
        self.debtor: dict[str, Any] = {}
        self.conf: dict[str, float] = {}
        self.warnings: list[dict[str, Any]] = []
        self.cross_check_failed = False
        self.language = "fr"

    def set(self, section: str, key: str, value: Any, confidence: float, path: str | None = None) -> None:
        if value is None or value == [] or value == {}:
            return
        (self.invoice if section == "invoice" else self.debtor)[key] = value
        self.conf[path or f"{section}.{key}"] = round(min(confidence * (OCR_FACTOR if self.ocr else 1), 1.0), 3)

    def warn(self, field: str, message: str, value: Any = None) -> None:
        self.warnings.append(
            {"field": field, "message": message, "extracted_value": None if value is None else str(value)}
        )

    def adjust(self, path: str, *, at_least: float | None = None, factor: float | None = None,
               plus: float | None = None, at_most: float | None = None) -> None:
        if path not in self.conf:
            return
        c = self.conf[path]
        if at_least is not None:
            c = max(c, at_least)
        if plus is not None:
            c = min(c + plus, 0.98)
        if factor is not None:
            c *= factor
        if at_most is not None:
            c = min(c, at_most)
        self.conf[path] = round(c, 3)


def extract_from_pages(pages: list[str], *, ocr: bool = False) -> dict[str, Any]:
    doc = Document(pages)
    text = doc.text
    language = detect_language(text)
    currencies = find_currencies(text)
    main_currency = max({f.value for f in currencies}, key=[f.value for f in currencies].count) if currencies else None
    order = numeric_date_order(text, language, main_currency)
    finder = FieldFinder(doc, order)
    res = _Result(ocr)
    res.language = language

    _numbers(finder, res)
    _dates(finder, res)
    amount_line = _amounts(finder, res)
    _currency(finder, res, amount_line)
    _debtor(doc, finder, res)
    _texts(finder, res, text)

    missing = [p for p in REQUIRED_FIELDS + RECOMMENDED_FIELDS if p not in res.conf]
    required = [res.conf.get(p, 0.0) for p in REQUIRED_FIELDS]
    overall = 0.5 * sum(required) / len(required) + 0.5 * min(required)
    if res.cross_check_failed:
        overall = min(overall, CROSS_CHECK_FAILED_CAP)
    if res.invoice.get("currency") not in (None, "EUR"):
        res.warn(
            "invoice.currency",
            f"Cleavr accepts only EUR; this invoice is in {res.invoice['currency']} (submitting it fails with "
            "INVALID_CURRENCY until converted)",
            res.invoice["currency"],
        )
    if ocr:
        res.warn("raw_text", "Text read by OCR from a scanned PDF; check the values before submitting")
    return {
        "confidence": round(overall, 3),
        "data": {"invoice": res.invoice, "debtor": res.debtor},
        "missing_fields": missing,
        "warnings": res.warnings,
        "field_confidence": res.conf,
        "raw_text": _compact(text),
        "pages": doc.page_count,
    }


def _compact(text: str) -> str:
    lines = (re.sub(r" {3,}", "   ", ln.strip()) for ln in text.splitlines())
    return "\n".join(ln for ln in lines if ln)


# --- invoice fields -------------------------------------------------------------------------------------------
def _numbers(finder: FieldFinder, res: _Result) -> None:
    group = _top_group(finder.number_candidates())
    numbers: list[str] = []
    for cand in sorted(group, key=lambda c: c.line):
        if cand.value not in numbers:
            numbers.append(cand.value)
    if numbers:
        res.set("invoice", "numbers", numbers, max(c.confidence for c in group))


def _dates(finder: FieldFinder, res: _Result) -> None:
    issue_all = finder.date_candidates(L.ISSUE_DATE, issue=True) + finder.issue_dates_after_number()
    issue_group = _top_group(issue_all)
    due_group = _top_group(finder.date_candidates(L.DUE_DATE, issue=False))
    # Several invoices in one document: the receivable ages from the oldest one, and is due at the earliest due date.
    issue = min((c.value for c in issue_group), default=None)
    due = min((c.value for c in due_group), default=None)
    if issue is not None:
        res.set("invoice", "issue_date", issue, max(c.confidence for c in issue_group))
        # Another date label beside its value says something else (`Date : 15/01/2020` under a `Date de facture`
        # that gave 30/11/2019): the labels disagree, so the choice is not sure.
        rivals = {c.value for c in issue_all if c not in issue_group and c.how == "beside"
                  and c.confidence >= L.WEAK and c.value != issue}
    else:
        rivals = set()
    if due is not None:
        res.set("invoice", "due_date", due, max(c.confidence for c in due_group))
    if isinstance(issue, date) and isinstance(due, date):
        if due >= issue:
            res.adjust("invoice.issue_date", plus=0.05)
            res.adjust("invoice.due_date", plus=0.05)
        else:
            res.cross_check_failed = True
            res.adjust("invoice.issue_date", factor=FAILED_FACTOR)
            res.adjust("invoice.due_date", factor=FAILED_FACTOR)
            res.warn("invoice.due_date", f"Due date {due.isoformat()} is before the issue date {issue.isoformat()}",
                     due.isoformat())
    if rivals:
        res.adjust("invoice.issue_date", at_most=DISAGREEING_LABELS_CAP)


def _unique_by_value(cands: list[Candidate]) -> list[Candidate]:
    best: dict[Decimal, Candidate] = {}
    for c in cands:
        cur = best.get(c.value)
        if cur is None or (c.confidence, c.line) > (cur.confidence, cur.line):
            best[c.value] = c
    return sorted(best.values(), key=lambda c: (-c.confidence, -c.line))[:8]


def _amounts(finder: FieldFinder, res: _Result) -> int | None:
    ttc = _unique_by_value(finder.amount_candidates(L.AMOUNT))
    ht = _unique_by_value(finder.amount_candidates(L.AMOUNT_BEFORE_TAX))
    tax = _unique_by_value(finder.amount_candidates(L.TAX, tax=True))
    pick = [_best(ttc), _best(ht), _best(tax)]
    checked = False
    if all(pick) and pick[1].value + pick[2].value == pick[0].value:
        checked = True
    elif ttc and ht and tax:
        # The most confident labels disagree: look for the most confident consistent triple among the candidates.
        consistent = [
            combo for combo in itertools.product(ttc, ht, tax)
            if combo[1].value + combo[2].value == combo[0].value and combo[0].value > 0
        ]
        if consistent:
            best_combo = max(consistent, key=lambda c: sum(x.confidence for x in c))
            if sum(x.confidence for x in best_combo) >= sum(x.confidence for x in pick) - 0.4:
                pick, checked = list(best_combo), True
    amount, before, tax_amount = pick
    if not checked and amount is not None and tax_amount is not None and tax_amount.value > amount.value:
        # Tax cannot exceed the total: the "tax" is another number (a rate table, a registration number).
        res.warn("invoice.tax_amount", f"Tax {tax_amount.value} read above the total {amount.value}: dropped",
                 str(tax_amount.value))
        tax_amount = None
    if amount is None and before is not None and tax_amount is not None:
        # No total printed: HT + TVA gives it, but that is a derivation, not a reading.
        amount = Candidate(before.value + tax_amount.value, 0.6, before.line, "guess", "ht+tva")
    for key, cand in (("amount", amount), ("amount_before_tax", before), ("tax_amount", tax_amount)):
        if cand is not None:
            res.set("invoice", key, cand.value.quantize(CENT), cand.confidence)
    if checked:
        for key in ("amount", "amount_before_tax", "tax_amount"):
            res.adjust(f"invoice.{key}", at_least=CHECKED)
    elif amount is not None and before is not None and tax_amount is not None:
        res.cross_check_failed = True
        for key in ("amount", "amount_before_tax", "tax_amount"):
            res.adjust(f"invoice.{key}", factor=FAILED_FACTOR)
        res.warn(
            "invoice.amount",
            f"Total {amount.value} ≠ amount before tax {before.value} + tax {tax_amount.value}",
            str(amount.value),
        )
    elif amount is not None and before is not None and before.value > amount.value:
        res.cross_check_failed = True
        res.adjust("invoice.amount", factor=FAILED_FACTOR)
        res.adjust("invoice.amount_before_tax", factor=FAILED_FACTOR)
        res.warn("invoice.amount", f"Total {amount.value} is below the amount before tax {before.value}",
                 str(amount.value))
    _line_items_sum(finder, res, before if before is not None else amount,
                    "amount_before_tax" if before is not None else "amount", arithmetic_holds=checked)
    return amount.line if amount is not None and amount.line >= 0 else None


LINE_ITEMS_FAILED_CAP = 0.85


def _line_items_sum(finder: FieldFinder, res: _Result, total: Candidate | None, key: str, *,
                    arithmetic_holds: bool) -> None:
    """The line items must sum up to the subtotal (or to the total when there is no subtotal): a sum that matches
    confirms it; one that matches neither flags it - unless HT + TVA = TTC already holds, when the mismatch says
    more about our reading of the table (section subtotals, a discount row) than about the totals."""
    if total is None:
        return
    items = finder.line_item_amounts()
    if not items:
        return
    found = sum(items, Decimal(0))
    targets = {res.invoice.get(k) for k in ("amount_before_tax", "amount") if res.invoice.get(k) is not None}
    if found == total.value or found in targets:
        res.adjust(f"invoice.{key}", at_least=CHECKED)
        return
    if arithmetic_holds:
        return
    res.cross_check_failed = True
    res.adjust(f"invoice.{key}", at_most=LINE_ITEMS_FAILED_CAP)
    res.warn(f"invoice.{key}", f"The {len(items)} line items sum to {found}, not {total.value}", str(total.value))


def _currency(finder: FieldFinder, res: _Result, amount_line: int | None) -> None:
    best = _best(finder.currency_candidates(amount_line))
    if best is not None:
        res.set("invoice", "currency", best.value, best.confidence)


def _texts(finder: FieldFinder, res: _Result, text: str) -> None:
    service = _first(finder.text_after(L.SERVICE)) or _first(finder.first_row_under_header(L.SERVICE_HEADER))
    if service is not None:
        res.set("invoice", "service_description", service.value, service.confidence)
    terms = _first(finder.text_after(L.PAYMENT_TERMS, max_len=120))
    if terms is not None:
        res.set("invoice", "payment_terms", terms.value, terms.confidence)
    penalty = late_penalty_rate(text)
    if penalty is not None:
        res.set("invoice", "late_penalty_rate", penalty.value, penalty.confidence)


def _first(cands: list[Candidate]) -> Candidate | None:
    if not cands:
        return None
    top = max(c.confidence for c in cands)
    return min((c for c in cands if c.confidence == top), key=lambda c: c.line)


# --- debtor -------------------------------------------------------------------------------------------------
def _debtor(doc: Document, finder: FieldFinder, res: _Result) -> None:
    debtors = DebtorFinder(doc)
    # The most specific heading first, then the first one in the document; a heading whose block holds no name
    # (`Bill to` + `Address`) gives way to the next one.
    blocks = sorted(debtors.labelled_blocks(), key=lambda b: (-b.confidence, b.line_index))
    blocks += debtors.sender_line_blocks() + debtors.unlabelled_blocks()
    block, parsed = None, None
    for candidate in blocks:
        parsed_candidate = parse_block(candidate.lines)
        if parsed_candidate.company_name or parsed_candidate.emails:
            block, parsed = candidate, parsed_candidate
            break
    conf = block.confidence if block else UNLABELLED
    if parsed is None or parsed.company_name is None:
        parsed_emails: list[str] = []
    else:
        parsed_emails = parsed.emails
        res.set("debtor", "company_name", parsed.company_name, conf)
        if not LEGAL_FORM_RE.search(parsed.company_name) and not (parsed.siret or parsed.siren or parsed.vat_number):
            # Neither a legal form nor an identifier: the block's first line may be a person or a department.
            res.adjust("debtor.company_name", at_most=UNCONFIRMED_NAME_CAP)
        if parsed.company_type:
            res.set("debtor", "company_type", parsed.company_type, conf)
        _identifiers(parsed, res, conf)
        address = dict(parsed.address)
        if address:
            complete = {"line1", "postal_code", "city"} <= address.keys()
            if "country" not in address and "postal_code" in address and re.fullmatch(r"\d{5}", address["postal_code"]):
                if res.invoice.get("currency") in (None, "EUR") and res.language == "fr":
                    address["country"] = "FR"  # a 5-digit code on a French-language euro invoice: read as France
            res.set("debtor", "address", address, conf if complete else conf * 0.8)

    contacts: list[dict[str, Any]] = []
    emails = list(parsed_emails)
    email_conf = conf
    if not emails:
        labelled = sorted(debtors.labelled_emails(finder), key=lambda c: c.line)
        if labelled:
            emails = [labelled[0].value]
            email_conf = labelled[0].confidence
    phones: list[str] = []
    region = (res.debtor.get("address") or {}).get("country") or "FR"
    for raw in parsed.phones if parsed else []:
        e164 = normalize_phone(raw, region)
        if e164 is None:
            res.warn("debtor.contacts[0].phone", "Phone number is not a valid number", raw)
        elif e164 not in phones:
            phones.append(e164)
    names = (parsed.contact_names if parsed else []) or debtors.labelled_contact_names()
    for level in range(min(3, max(len(emails), len(phones), len(names)))):
        contact: dict[str, Any] = {"level": level}
        if level < len(names):
            first, last = names[level]
            if first:
                contact["first_name"] = first
            if last:
                contact["last_name"] = last
        if level < len(emails):
            contact["email"] = emails[level]
        if level < len(phones):
            contact["phone"] = phones[level]
        contacts.append(contact)
    if contacts:
        res.debtor["contacts"] = contacts
        if "email" in contacts[0]:
            res.conf["debtor.contacts[0].email"] = round(email_conf * (OCR_FACTOR if res.ocr else 1), 3)
        if "phone" in contacts[0]:
            res.conf["debtor.contacts[0].phone"] = round(conf * (OCR_FACTOR if res.ocr else 1), 3)


def _identifiers(parsed, res: _Result, conf: float) -> None:
    if parsed.siret:
        res.set("debtor", "siret", parsed.siret, conf)
        if len(parsed.siret) != 14:
            res.cross_check_failed = True
            res.adjust("debtor.siret", at_most=0.5)
            res.warn("debtor.siret", f"SIRET must have 14 digits, found {len(parsed.siret)}", parsed.siret)
        elif not is_valid_siret(parsed.siret):
            res.cross_check_failed = True
            res.adjust("debtor.siret", at_most=0.5)
            res.warn("debtor.siret", "SIRET checksum (Luhn) fails", parsed.siret)
        else:
            res.adjust("debtor.siret", at_least=CHECKED)
    elif parsed.siren:
        ok = is_valid_siren(parsed.siren)
        res.warn(
            "debtor.siret",
            "Only a SIREN (9 digits) is printed; the 14-digit SIRET is needed"
            + ("" if ok else " — and this SIREN's checksum fails"),
            parsed.siren,
        )
    if parsed.vat_number:
        vat = parsed.vat_number
        res.set("debtor", "vat_number", vat, conf)
        valid = is_valid_fr_vat(vat) if vat.startswith("FR") else _valid_eu_vat(vat)
        if valid:
            res.adjust("debtor.vat_number", at_least=CHECKED)
        else:
            res.cross_check_failed = True
            res.adjust("debtor.vat_number", at_most=0.5)
            res.warn("debtor.vat_number", "VAT number checksum fails", vat)
        siret = res.debtor.get("siret")
        if valid and vat.startswith("FR") and siret and len(siret) == 14 and vat[4:] != siret[:9]:
            res.warn("debtor.vat_number", "VAT number and SIRET belong to different companies (SIREN differs)", vat)


def _valid_eu_vat(vat: str) -> bool:
    from stdnum.eu import vat as eu_vat

    try:
        return bool(eu_vat.is_valid(vat))
    except Exception:
        return False
