"""Idempotency keys derived from what a request MEANS, so an LLM caller cannot create the same thing twice.

A model that retries a submission — after a timeout, in a new tool call, after a server restart — rebuilds the
request from the conversation, with possibly different key order, phone formatting, contact list or wording.
A random key per call would make each retry a new receivable. Instead the key is a hash of the canonical
identity of the request:

- receivable: "the same invoice" is the same creditor (user_id), the same SET of invoice numbers and the same
  amount to the cent (and currency). Invoice numbers are compared folded (`text.fold_identifier`): NFKC, so
  full-width `ＤＵＰ-Ｆ` is `DUP-F`; invisible characters removed (`DUP\u200b-E` is `DUP-E`); every dash and minus
  sign as `-` (`DUP–G` is `DUP-G`); whitespace collapsed; case folded (`dup-h` is `DUP-H`). NOT in the key:
  force_proceed, contacts, descriptions, dates, metadata — and NOT the debtor. An invoice number is unique for
  its issuer (French law requires one continuous, unique numbering per issuer), so the creditor and the numbers
  already name one invoice; the debtor is a property of that invoice. Keying on the debtor would make the key
  depend on how completely the model described it: `DUP-H` sent with a SIRET and then `dup-h` without one would
  get two keys and two receivables. The debtor's identity (`debtor_identity`: SIRET digits when present, else
  VAT number, else the folded company name) is what the confirmation shows and what the API compares when the
  same key comes back with a different body (409 IDEMPOTENCY_KEY_REUSED: "already submitted as rec_…").
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
- The same creditor, numbers and amount for a different debtor is treated as the same invoice (the second
  submission is refused as already submitted): a creditor cannot have issued one invoice number to two debtors.
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
from .text import fold_identifier
from .validation import digits, to_money

KEY_PREFIX = "cmcp"
KEY_HASH_CHARS = 40  # 160 bits: collisions are out of the question, keys stay short
_KIND = re.compile(r"[^a-z0-9]+")
KEY_VERSION = 2  # bump if the canonical form changes (old keys then simply stop matching). 2: folded numbers, no debtor


def _fold(text: str) -> str:
    return fold_identifier(text)


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
    if debtor.siret and (siret := digits(fold_identifier(debtor.siret))):
        return f"siret:{siret}"
    if debtor.vat_number and (vat := digits(fold_identifier(debtor.vat_number)).upper()):
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
