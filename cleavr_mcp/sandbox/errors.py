"""The contract's error envelope `{"error": {code, message, field, details}}` for every failure the sandbox answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from ..cleavr import wire
from ..cleavr.contract import ERROR_STATUS, ErrorCode

JSON = "application/json"


class ApiError(Exception):
    """Raised anywhere in a request; the app turns it into the envelope (and rolls back the transaction)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.status = status or ERROR_STATUS[code]
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        return Response(wire.dumps(self.body()), status_code=self.status, media_type=JSON, headers=self.headers)


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type=JSON, headers=dict(headers or {}))


# --- pydantic errors -> envelope ----------------------------------------------------------------------------
_LOCATION_ROOTS = {"body", "query", "path", "header", "cookie"}


def field_path(loc: Sequence[str | int], prefix: str = "") -> str | None:
    """`('debtor', 'contacts', 0, 'email')` -> `debtor.contacts[0].email`."""
    parts = list(loc)
    if parts and parts[0] in _LOCATION_ROOTS:
        parts = parts[1:]
    text = prefix
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or None


def _describe(error: Mapping[str, Any], field: str | None) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "missing":
        return f"`{field}` is required." if field else "A required value is missing."
    if kind == "extra_forbidden":
        return f"Unknown field `{field}`: remove it or fix its spelling (unknown fields are refused, never ignored)."
    subject = f"`{field}`" if field else "The request"
    if kind in {"string_type", "int_type", "int_parsing", "bool_type", "bool_parsing", "decimal_parsing",
                "decimal_type", "float_parsing", "date_from_datetime_parsing", "date_parsing", "date_type",
                "list_type", "dict_type", "model_type", "model_attributes_type", "literal_error", "enum"}:
        got = error.get("input")
        shown = f" (got {got!r})" if isinstance(got, (str, int, float, bool)) and len(repr(got)) <= 60 else ""
        return f"{subject}: {msg[0].lower() + msg[1:]}{shown}."
    return f"{subject}: {msg.rstrip('.')}."


def from_validation_errors(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> ApiError:
    items = []
    for error in errors:
        field = field_path(error.get("loc", ()), prefix)
        items.append({"field": field, "message": _describe(error, field), "type": error.get("type")})
    if not items:
        return ApiError(ErrorCode.VALIDATION_ERROR, "The request is invalid.")
    first = items[0]
    message = first["message"]
    if len(items) > 1:
        message += f" ({len(items) - 1} more problem(s) listed in details.errors.)"
    return ApiError(ErrorCode.VALIDATION_ERROR, message, field=first["field"], details={"errors": items})


def from_validation_error(exc: ValidationError, prefix: str = "") -> ApiError:
    return from_validation_errors(exc.errors(include_url=False), prefix)
