"""When and how long to wait before trying a request again.

Rules (the client applies them in `CleavrClient._send`):
- retried: connect errors and timeouts, reads cut short (dropped connection, RemoteProtocolError), and the
  statuses 429 / 502 / 503 / 504;
- GET, HEAD, OPTIONS, PUT and DELETE are always eligible; POST and PATCH only when they carry an Idempotency-Key
  (the client always sends one, so only the OAuth token endpoint is keyless). Two exceptions are safe for a
  keyless POST because the server never processed it: a connection that could not be established, and a 429;
- exponential backoff with full jitter (delay uniform in [0, min(max_delay, base_delay·2^(n-1))]); a server's
  Retry-After is honoured as given, not shortened;
- bounded by `max_attempts` (attempts in all, the first included) AND `total_budget` seconds: a retry whose wait
  would end after the budget is not made, the last error is raised instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# The request never reached the server: retrying cannot duplicate anything, whatever the method.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# The request may have been processed: only methods that are safe to repeat are retried.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx2.ReadError,
    httpx2.ReadTimeout,
    httpx2.WriteError,
    httpx2.WriteTimeout,
    httpx2.RemoteProtocolError,
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    total_budget: float = 30.0
    jitter: bool = True
    retry_statuses: frozenset[int] = RETRY_STATUSES
    # Injectable for tests: how to wait, what time it is, where randomness comes from.
    sleep: Callable[[float], Awaitable[Any]] | None = field(default=None, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """From `Settings`: `max_retries` is read as attempts in all (its default 4 = this policy's default) and
        `retry_budget_seconds` as the total budget."""
        return cls(max_attempts=max(1, settings.max_retries), total_budget=settings.retry_budget_seconds)

    def method_is_repeatable(self, method: str, has_key: bool) -> bool:
        return method.upper() in IDEMPOTENT_METHODS or has_key

    def exception_is_retryable(self, exc: BaseException, method: str, has_key: bool) -> bool:
        if isinstance(exc, NOT_SENT_ERRORS):
            return True
        return isinstance(exc, MAYBE_SENT_ERRORS) and self.method_is_repeatable(method, has_key)

    def status_is_retryable(self, status: int, method: str, has_key: bool) -> bool:
        if status not in self.retry_statuses:
            return False
        return status == 429 or self.method_is_repeatable(method, has_key)

    def backoff(self, attempt: int) -> float:
        """Wait after failed attempt number `attempt` (1-based), before jitter is applied."""
        cap = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return cap * self.random() if self.jitter else cap

    def next_delay(self, attempt: int, started: float, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when attempts or the time budget are spent."""
        if attempt >= self.max_attempts:
            return None
        delay = retry_after if retry_after is not None else self.backoff(attempt)
        if self.clock() - started + delay > self.total_budget:
            return None
        return delay

    async def pause(self, seconds: float) -> None:
        await (self.sleep or anyio.sleep)(seconds)


NO_RETRY = RetryPolicy(max_attempts=1)
