"""Idempotency keys derived from what a request MEANS, so an LLM caller cannot create the same thing twice.

A model that retries a submission — after a timeout, in a new tool call, after a server restart — rebuilds the
request from the conversation, with possibly different key order, phone formatting, contact list or wording.
A random key per call would make each retry a new receivable. Instead the key is a hash of the canonical
identity of the request:

- receivable: user_id, the set of invoice numbers (trimmed, whitespace-collapsed, case-folded, sorted), the amount
  to the cent, the currency, and the debtor identity (SIRET digits, else VAT number, else the case-folded,
  whitespace-collapsed company name). NOT force_proceed, contacts, descriptions, dates or metadata.
- create_user, add_contact, cancel, OCR upload, webhook registration: `content_key(kind, payload)` over the target
  id and the canonical body (repeating them is never a new intent).
- actions that can legitimately recur with an identical body — metadata PATCH (a=1, a=2, a=1), evidence (a second
  dispute), partial-payment decisions (a second instalment), commission quotes (depend on today) — get
  `call_key(kind)`: random per call, reused by that call's retries. Their repeat in a NEW call after a success is
  stopped by the API's lifecycle (INVALID_STATE), or is harmless. Every client method also takes an explicit key.

Trade-offs (deliberate):
- A corrected retry of the same invoice (a phone added, force_proceed set after MISSING_PHONE_WARNING) reuses the
  key. The API stores only 2xx responses under a key, so after an ERROR the corrected retry goes through.
- After a SUCCESS, the same invoice with a changed body gets 409 IDEMPOTENCY_KEY_REUSED; the client reports it as
  "already submitted (as rec_…)" — change an accepted receivable with add_contact / update_metadata instead.
- If the debtor identity itself changes after a success (SIRET added where there was none), the key changes; the
  API's own DUPLICATE_RECEIVABLE rule (same user + invoice number still active) still stops a second receivable.
- Keys live 24 h on the API. To resubmit on purpose (e.g. after cancelling an incorrect submission), pass an
  explicit `idempotency_key`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from .models import Debtor, ReceivableCreate
from .validation import digits, to_money

KEY_PREFIX = "cmcp"
KEY_HASH_CHARS = 40  # 160 bits: collisions are out of the question, keys stay short
_KIND = re.compile(r"[^a-z0-9]+")
KEY_VERSION = 1  # bump if the canonical form changes (old keys then simply stop matching)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _digest(kind: str, canonical: Any) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    kind = _KIND.sub("-", kind.lower()).strip("-") or "req"
    return f"{KEY_PREFIX}-{kind}-{hashlib.sha256(text.encode()).hexdigest()[:KEY_HASH_CHARS]}"


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 10.50 and 10.5 are the same amount
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def debtor_identity(debtor: Debtor) -> str:
    if debtor.siret and (siret := digits(debtor.siret)):
        return f"siret:{siret}"
    if debtor.vat_number and (vat := digits(debtor.vat_number).upper()):
        return f"vat:{vat}"
    return f"name:{_fold(debtor.company_name)}"


def receivable_identity(req: ReceivableCreate) -> dict[str, Any]:
    """The canonical content a receivable key is derived from (exposed for tests and explanations)."""
    return {
        "v": KEY_VERSION,
        "user_id": req.user_id,
        "numbers": sorted({_fold(n) for n in req.invoice.numbers}),
        "amount": format(to_money(req.invoice.amount), "f"),
        "currency": req.invoice.currency.strip().upper(),
        "debtor": debtor_identity(req.debtor),
    }


def receivable_key(req: ReceivableCreate) -> str:
    return _digest("rec", receivable_identity(req))


def batch_key(reqs: Iterable[ReceivableCreate]) -> str:
    """Order matters: the API answers by index, so a reordered batch must not replay the old indexes."""
    return _digest("bat", {"v": KEY_VERSION, "items": [receivable_identity(r) for r in reqs]})


def content_key(kind: str, payload: Mapping[str, Any] | BaseModel) -> str:
    """A key for any other write: the target id(s) and the canonical body, under a kind prefix."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_none=True)
    return _digest(kind, {"v": KEY_VERSION, **payload})


def call_key(kind: str) -> str:
    """A fresh key for one call (its retries reuse it): for writes whose identical repeat can be a new intent."""
    kind = _KIND.sub("-", kind.lower()).strip("-") or "req"
    return f"{KEY_PREFIX}-{kind}-call-{uuid.uuid4().hex}"
