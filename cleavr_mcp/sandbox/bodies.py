"""Reading request bodies the way the contract wants: size-capped, wire JSON (Decimal), strict models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ..cleavr import wire
from ..cleavr.contract import MAX_JSON_BODY_BYTES, ErrorCode
from .errors import ApiError, from_validation_error

M = TypeVar("M", bound=BaseModel)

# After the cap is exceeded we keep reading (and discarding) this much more so the client, which is still sending,
# gets the 413 instead of a reset connection.
_DRAIN_BYTES = 32 * 1024 * 1024


def _too_large(limit: int) -> ApiError:
    return ApiError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The request body is larger than {limit} bytes: send less data (split a batch, or shrink the documents).",
        details={"max_bytes": limit},
    )


async def read_body(request: Request, limit: int = MAX_JSON_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + _DRAIN_BYTES:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > limit + _DRAIN_BYTES:
            break
    if size > limit:
        raise _too_large(limit)
    body = b"".join(chunks)
    request._body = body  # lets request.form() parse what was already read
    return body


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise ApiError(ErrorCode.VALIDATION_ERROR, "The request body is empty: send a JSON object.")
    try:
        return wire.loads(body)
    except UnicodeDecodeError:
        raise ApiError(ErrorCode.VALIDATION_ERROR, "The request body is not UTF-8: send JSON encoded as UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"The request body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): "
            "fix the syntax and send a JSON object.",
            details={"line": exc.lineno, "column": exc.colno},
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR, f"The request body is not acceptable JSON: {str(exc)[:200]}."
        ) from None


def validate(model: type[M], data: Any, prefix: str = "") -> M:
    if not isinstance(data, dict):
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"The request body must be a JSON object, got {type(data).__name__ if data is not None else 'null'}.",
            field=prefix or None,
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix) from None


async def json_body(request: Request, model: type[M], limit: int = MAX_JSON_BODY_BYTES) -> tuple[M, Any]:
    """(validated model, parsed JSON) of the request; the parsed form feeds the idempotency fingerprint."""
    data = parse_json(await read_body(request, limit))
    return validate(model, data), data
