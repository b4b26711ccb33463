"""Typed errors for the CleverInvo API: the `{"error": "…"}` body and the HTTP status, never the API key."""

from __future__ import annotations


class CleverInvoError(Exception):
    """Any failure talking to CleverInvo. `status` is the HTTP status (None for transport failures)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"CleverInvo {self.status}: {self.message}" if self.status else f"CleverInvo: {self.message}"


class BadRequestError(CleverInvoError):
    """400: invalid parameters or a missing field (also: editing an invoice that is not a DRAFT)."""


class AuthenticationError(CleverInvoError):
    """401: the API key is missing or invalid."""


class PlanLimitError(CleverInvoError):
    """403: the plan's client or invoice limit is reached, or the feature is not on the plan."""


class NotFoundError(CleverInvoError):
    """404: the resource does not exist or is not accessible (soft-deleted clients included)."""


class RateLimitedError(CleverInvoError):
    """429: still rate limited after the bounded retries."""


class ServerError(CleverInvoError):
    """5xx: unexpected failure on CleverInvo's side; retry later."""


class TransportError(CleverInvoError):
    """The request did not complete (connection refused, timeout…)."""


class PdfTooLargeError(CleverInvoError):
    """The PDF exceeded the download size cap; the partial file was deleted."""


_BY_STATUS: dict[int, type[CleverInvoError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PlanLimitError,
    404: NotFoundError,
    429: RateLimitedError,
}


def error_for_status(status: int, message: str, *, retry_after: float | None = None) -> CleverInvoError:
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else CleverInvoError)
    return cls(message, status=status, retry_after=retry_after)
