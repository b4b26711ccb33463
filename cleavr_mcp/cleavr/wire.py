"""JSON as it travels to and from the API: money as exact JSON numbers, never through float.

The contract writes amounts as numbers (`5000.00`). Python's json module can only emit numbers from float, so
Decimals are written verbatim through a placeholder; readers parse numbers straight into Decimal.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

# A per-process token makes the placeholder impossible to forge from user text.
_TOKEN = secrets.token_hex(6)
_MARK = f"\u0000dec{_TOKEN}:"
_MARKED = re.compile(r'"\\u0000dec' + _TOKEN + r':(-?[0-9]+(?:\.[0-9]+)?)"')


def _prepare(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _prepare(value.model_dump(mode="python", exclude_none=True, by_alias=True))
    if isinstance(value, dict):
        return {str(k): _prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    if isinstance(value, Decimal):
        return _MARK + format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):  # only non-money floats reach here (e.g. confidence)
        return value
    return value


def dumps(value: Any) -> bytes:
    """Serialise models/dicts for the wire; Decimals become exact JSON numbers."""
    text = json.dumps(_prepare(value), ensure_ascii=False, separators=(",", ":"))
    return _MARKED.sub(r"\1", text).encode()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes | str) -> Any:
    """Parse wire JSON keeping every non-integer number as Decimal; NaN/Infinity are refused (not JSON)."""
    return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
