"""The second reading: our own extractor's result compared, field by field, with Cleavr's OCR answer.

Cleavr's OCR is the reading of record (the extraction_id ties the submission to it), but it is a remote black box:
the server holds the file, reads it itself (text layer; OCR when Tesseract is there) and reports every field where
the two readings disagree, so the person approving sees "Cleavr read 5,000.00; the PDF says 5,600.00" before any
money moves. Only the fields that decide a recovery are compared: amount, invoice numbers, dates and debtor.

    discrepancies = compare_readings(cleavr_draft, extract_invoice(pdf_bytes))
    # [{"field": "invoice.amount", "cleavr": "5000.00", "pdf": "5600.00", "message": "Cleavr read 5,000.00; ..."}]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

COMPARED_FIELDS = (
    "invoice.amount",
    "invoice.numbers",
    "invoice.issue_date",
    "invoice.due_date",
    "debtor.company_name",
)
# Our reading must be at least this sure of a value to contradict Cleavr with it (a fallback guess is not).
MIN_PDF_CONFIDENCE = 0.5
_LEGAL_FORMS = re.compile(
    r"\b(?:sas|sasu|sarl|eurl|sa|sci|snc|selarl|ltd|llc|inc|corp|plc|gmbh|bv|nv|ag|srl|spa|sl|co|company)\b"
)


@dataclass(frozen=True)
class Discrepancy:
    field: str
    cleavr: str | None
    pdf: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(data: dict[str, Any], path: str) -> Any:
    section, key = path.split(".", 1)
    return (data.get(section) or {}).get(key)


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _show_money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _name_key(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().casefold()
    folded = re.sub(r"[^a-z0-9 ]+", " ", folded)
    return " ".join(_LEGAL_FORMS.sub(" ", folded).split())


def _number_key(value: str) -> str:
    return re.sub(r"[\s\-_/.]", "", str(value)).casefold()


def _differs(path: str, cleavr: Any, pdf: Any) -> bool:
    if path == "invoice.amount":
        return _money(cleavr) != _money(pdf)
    if path == "invoice.numbers":
        return {_number_key(n) for n in cleavr or []} != {_number_key(n) for n in pdf or []}
    if path == "debtor.company_name":
        a, b = _name_key(str(cleavr)), _name_key(str(pdf))
        return not (a and b and (a == b or a in b or b in a))
    return str(cleavr) != str(pdf)


def _show(path: str, value: Any) -> str:
    if path == "invoice.amount":
        money = _money(value)
        return _show_money(money) if money is not None else str(value)
    if path == "invoice.numbers":
        return ", ".join(str(n) for n in value)
    return str(value)


_LABELS = {
    "invoice.amount": "the amount",
    "invoice.numbers": "the invoice number(s)",
    "invoice.issue_date": "the issue date",
    "invoice.due_date": "the due date",
    "debtor.company_name": "the debtor",
}


def field_label(path: str) -> str:
    """What a person reads for a compared field ("the amount"); an unknown path is shown as it is."""
    return _LABELS.get(path, path)


def compare_readings(cleavr: dict[str, Any], pdf_result: dict[str, Any]) -> list[Discrepancy]:
    """Fields where Cleavr's reading (`{"invoice": …, "debtor": …}`, JSON values) and ours disagree.

    A field our reading did not find, or found only by a low-confidence guess, is not a disagreement; a field
    Cleavr left empty while the PDF states it is one (the person should know the value is there).
    """
    ours = pdf_result.get("data") or {}
    confidence = pdf_result.get("field_confidence") or {}
    out: list[Discrepancy] = []
    for path in COMPARED_FIELDS:
        pdf_value = _get(ours, path)
        if pdf_value in (None, "", []) or confidence.get(path, 0.0) < MIN_PDF_CONFIDENCE:
            continue
        if hasattr(pdf_value, "isoformat"):
            pdf_value = pdf_value.isoformat()
        cleavr_value = _get(cleavr, path)
        pdf_shown = _show(path, pdf_value)
        if cleavr_value in (None, "", []):
            out.append(Discrepancy(path, None, pdf_shown,
                                   f"Cleavr did not read {_LABELS[path]}; the PDF says {pdf_shown}"))
        elif _differs(path, cleavr_value, pdf_value):
            shown = _show(path, cleavr_value)
            out.append(Discrepancy(path, shown, pdf_shown,
                                   f"Cleavr read {shown} for {_LABELS[path]}; the PDF says {pdf_shown}"))
    return out
