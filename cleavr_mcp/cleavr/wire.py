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


MAX_DEPTH = 64  # no message of the contract nests more than ~6 levels; Python's parser recurses per level


_STRUCTURE = re.compile(rb'"(?:[^"\\]+|\\.)*"|[\[\]{}]', re.DOTALL)  # a whole string, or one bracket


def nesting_depth(data: bytes | str, limit: int = MAX_DEPTH) -> int:
    """How deep arrays/objects nest in JSON text, counted without parsing (strings skipped whole, escapes
    honoured); stops at limit + 1. Linear time, constant memory: safe on any body before `json.loads`."""
    raw = data.encode() if isinstance(data, str) else data
    depth = deepest = 0
    for match in _STRUCTURE.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


class TooDeepError(ValueError):
    """JSON nested deeper than MAX_DEPTH: refused before parsing."""


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse wire JSON keeping every non-integer number as Decimal; NaN/Infinity are refused (not JSON).
    With `max_depth` (bodies from outside: webhooks), deeper nesting is refused before parsing; without it (API
    answers), a body too deep for the parser is still a TooDeepError (a ValueError), never a RecursionError."""
    if max_depth is not None and nesting_depth(data, max_depth) > max_depth:
        raise TooDeepError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise TooDeepError("JSON nested too deep to parse") from None
