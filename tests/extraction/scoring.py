"""Field-level comparison of an extraction with a ground truth, shared by the tests and the benchmark."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any


def flatten(result: dict[str, Any]) -> dict[str, Any]:
    """`{"data": {"invoice": {...}, "debtor": {...}}}` → `{"invoice.amount": ..., "debtor.contacts[0].email": ...}`."""
    out: dict[str, Any] = {}
    invoice = result["data"].get("invoice", {})
    debtor = result["data"].get("debtor", {})
    for key, value in invoice.items():
        out[f"invoice.{key}"] = value
    for key, value in debtor.items():
        if key == "address" and isinstance(value, dict):
            for k, v in value.items():
                out[f"debtor.address.{k}"] = v
        elif key == "contacts":
            for i, contact in enumerate(value or []):
                for k, v in contact.items():
                    out[f"debtor.contacts[{i}].{k}"] = v
        else:
            out[f"debtor.{key}"] = value
    return out


def _norm_text(value: str) -> str:
    value = unicodedata.normalize("NFKC", value).replace("’", "'").casefold()
    return re.sub(r"\s+", " ", value).strip(" .,;:")


def same(expected: Any, got: Any) -> bool:
    if expected is None:
        return got in (None, "", [])
    if got is None:
        return False
    if isinstance(expected, list):
        return isinstance(got, list) and [str(x) for x in expected] == [str(x) for x in got]
    if isinstance(expected, date):
        return got == expected or str(got) == expected.isoformat()
    if isinstance(expected, (Decimal, int, float)) and not isinstance(expected, bool):
        try:
            return Decimal(str(got)) == Decimal(str(expected))
        except Exception:
            return False
    return _norm_text(str(expected)) == _norm_text(str(got))


def compare(truth: dict[str, Any], result: dict[str, Any]) -> dict[str, bool]:
    flat = flatten(result)
    return {path: same(expected, flat.get(path)) for path, expected in truth.items()}


# The real corpus's expected.json keys → contract paths.
REAL_FIELDS = {
    "invoice_number": "invoice.numbers",
    "date": "invoice.issue_date",
    "date_due": "invoice.due_date",
    "amount": "invoice.amount",
    "amount_untaxed": "invoice.amount_before_tax",
    "amount_tax": "invoice.tax_amount",
    "currency": "invoice.currency",
    "debtor": "debtor.company_name",
}


def real_truth(expected: dict[str, Any]) -> dict[str, Any]:
    truth: dict[str, Any] = {}
    for key, path in REAL_FIELDS.items():
        if key not in expected:
            continue
        value = expected[key]
        if key == "invoice_number":
            value = [value]
        elif key.startswith("date"):
            value = date.fromisoformat(value)
        elif key.startswith("amount"):
            value = Decimal(str(value))
        truth[path] = value
    return truth
