"""One exception hierarchy for everything the Cleavr client can raise.

    CleavrError
    ├── CleavrAPIError            the API answered with an error (envelope parsed, or a non-JSON body summarised)
    │   ├── CleavrAuthError       401, 403 INSUFFICIENT_SCOPE, token refresh / OAuth failures
    │   ├── CleavrNotFound        404
    │   └── CleavrRateLimited     429 after the retry budget (carries retry_after)
    ├── CleavrValidationError     refused locally, before any request (same codes as the API)
    └── CleavrTransportError      connection failures after retries; outcome_unknown when a write may have landed

Every error carries status, code, message, field, details, request_id and retryable. Messages and details are
redacted: `str(err)` never holds a token, a secret or a body.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2

from . import wire
from .contract import REQUEST_ID_HEADER, ErrorCode
from .logs import redact, redact_text

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_MESSAGE = 1000


class CleavrError(Exception):
    default_code = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retryable: bool = False,
    ) -> None:
        message = redact_text(message)
        # An API message is a sentence, not a body: anything longer is cut so no echoed body reaches a log or an LLM.
        self.message = message if len(message) <= MAX_MESSAGE else f"{message[:MAX_MESSAGE]}… (cut)"
        self.code = code or self.default_code
        self.status = status
        self.field = field
        # Details are data the caller acts on (an onboarding_url with its ?token= goes to the user): only
        # secret-named keys, bearer values and prefixed credentials are removed from them.
        self.details: dict[str, Any] = redact(dict(details or {}), key_values=False)
        self.request_id = request_id
        self.retryable = retryable
        super().__init__(self.message)

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.field:
            text += f" (field: {self.field})"
        if self.status is not None:
            text += f" [HTTP {self.status}]"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary for tool results."""
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "details": self.details,
            "status": self.status,
            "request_id": self.request_id,
            "retryable": self.retryable,
        }


class CleavrAPIError(CleavrError):
    default_code = ErrorCode.INTERNAL_ERROR.value


class CleavrAuthError(CleavrAPIError):
    default_code = ErrorCode.UNAUTHORIZED.value


class CleavrNotFound(CleavrAPIError):
    default_code = ErrorCode.NOT_FOUND.value


class CleavrRateLimited(CleavrAPIError):
    default_code = ErrorCode.RATE_LIMITED.value

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CleavrValidationError(CleavrError):
    default_code = ErrorCode.VALIDATION_ERROR.value

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message or "invalid request", code=code, field=field, **kwargs)


class CleavrTransportError(CleavrError):
    default_code = "TRANSPORT_ERROR"

    def __init__(self, message: str, *, outcome_unknown: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("retryable", True)
        super().__init__(message, **kwargs)
        self.outcome_unknown = outcome_unknown

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "outcome_unknown": self.outcome_unknown}


# --- Building errors from responses ------------------------------------------------------------------------
_STATUS_CODES = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.INSUFFICIENT_SCOPE,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.INVALID_STATE,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL_ERROR,
    502: ErrorCode.SERVICE_UNAVAILABLE,
    503: ErrorCode.SERVICE_UNAVAILABLE,
    504: ErrorCode.SERVICE_UNAVAILABLE,
}
_AUTH_CODES = frozenset({ErrorCode.UNAUTHORIZED.value, ErrorCode.INSUFFICIENT_SCOPE.value})
_TITLE = re.compile(rb"<title[^>]*>(.{1,120}?)</title>", re.IGNORECASE | re.DOTALL)

# What the caller should do, appended to the API's own message for the codes where it is not obvious.
ADVICE: dict[str, str] = {
    ErrorCode.USER_NOT_ONBOARDED: "Send the user to their onboarding_url (get_onboarding_status) to finish KYB first.",
    ErrorCode.MISSING_EMAIL_CONTACT: "Add an email address to at least one debtor contact.",
    ErrorCode.MISSING_PHONE_WARNING: "Ask the user whether to continue without a phone; resend with "
    "force_proceed=true only if they agree, or add a phone number.",
    ErrorCode.DUPLICATE_RECEIVABLE: "This invoice is already being recovered; look it up with list_receivables "
    "instead of submitting it again.",
    ErrorCode.INVALID_CURRENCY: "Convert the amounts to EUR.",
    ErrorCode.INSUFFICIENT_SCOPE: "The access token lacks the scope for this call; log in again granting it.",
    ErrorCode.UNAUTHORIZED: "The credentials were refused; log in again (cleavr-mcp login).",
    ErrorCode.RATE_LIMITED: "Too many requests; wait before retrying.",
    ErrorCode.INTERNAL_ERROR: "A server error; retrying the same call later is safe.",
    ErrorCode.SERVICE_UNAVAILABLE: "The API is temporarily unavailable; retrying the same call later is safe.",
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _envelope(response: httpx2.Response) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    """(code, message, field, details) from the API envelope or an OAuth-style error body; Nones when unreadable."""
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type and not response.content.lstrip().startswith(b"{"):
        return None, None, None, {}
    try:
        body = wire.loads(response.content)
    except ValueError:
        return None, None, None, {}
    if not isinstance(body, dict):
        return None, None, None, {}
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        message = error.get("message") if isinstance(error.get("message"), str) else None
        field = error.get("field") if isinstance(error.get("field"), str) else None
        return error["code"], message, field, details
    if isinstance(error, str):  # RFC 6749 §5.2: {"error": "invalid_grant", "error_description": "..."}
        description = body.get("error_description")
        return error, description if isinstance(description, str) else None, None, {"oauth_error": error}
    return None, None, None, {}


def _describe_body(response: httpx2.Response) -> str:
    content_type = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    size = len(response.content)
    if not size:
        return "an empty body"
    title = _TITLE.search(response.content[:4096])
    shown = f' titled "{title.group(1).decode("utf-8", "replace").strip()}"' if title else ""
    return f"a non-JSON body ({content_type}, {size} bytes{shown})"


def error_from_response(response: httpx2.Response, *, what: str | None = None) -> CleavrAPIError:
    """The exception for an error response: the API's envelope when there is one, else a clean summary."""
    status = response.status_code
    request_id = response.headers.get(REQUEST_ID_HEADER)
    code, message, field, details = _envelope(response)
    if code is None:
        code = _STATUS_CODES.get(status, ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.VALIDATION_ERROR)
        code = code.value
        message = f"The Cleavr API answered HTTP {status} with {_describe_body(response)}"
        if what:
            message += f" to {what}"
        message += "."
    elif not message:
        message = f"The Cleavr API refused the request with {code} (HTTP {status})."
    advice = ADVICE.get(code)
    if advice and advice not in message:
        message = f"{message.rstrip()} {advice}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is not None:
        details = {**details, "retry_after": retry_after}
    common: dict[str, Any] = {
        "code": code, "status": status, "field": field, "details": details, "request_id": request_id,
        "retryable": status in RETRYABLE_STATUSES,
    }
    if status == 429:
        return CleavrRateLimited(message, retry_after=retry_after, **common)
    if status == 404:
        return CleavrNotFound(message, **common)
    if status == 401 or (status == 403 and code in _AUTH_CODES) or "oauth_error" in details:
        return CleavrAuthError(message, **common)
    return CleavrAPIError(message, **common)
