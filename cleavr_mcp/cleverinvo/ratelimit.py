"""Client-side rate limiting for CleverInvo's "120 requests per minute per API key".

A bucket of `limit` tokens shared by every client object using the same key in this process. A request takes a
token before it is sent (a burst of up to `limit` goes at once) and gives it back `period` seconds after its
response arrived; when the bucket is empty, callers queue in order and are paced as tokens come back.

Why tokens come back a period after the *response* rather than trickling in at limit/period: the server counts
requests when it receives them, which is somewhere between our send and our response. Returning a token one
period after the response guarantees that no `period`-long window, as seen by the server, ever holds more than
`limit` of our requests, whatever the latency and whichever way the server counts (fixed window, sliding window
or a continuous bucket of the same size). A continuous refill lets a full burst plus a period's worth of refill
land inside one window, which a sliding-window server answers with 429s.

The clock and the sleep are injectable, and `limit`/`period` scale, so a test can prove the pacing in seconds.
The limiter holds no loop-bound primitive between calls, so one process-wide instance works across event loops.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

DEFAULT_LIMIT = 120
DEFAULT_PERIOD_SECONDS = 60.0


class RateLimiter:
    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        period: float = DEFAULT_PERIOD_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        margin: float = 0.0,
    ):
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Times at which returned tokens become usable again (unused tokens are usable since -inf).
        self._ready: list[float] = [float("-inf")] * limit
        self._waiters: deque[asyncio.Future[float]] = deque()
        self.acquired = 0  # counters, for tests and diagnostics
        self.waited = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one token for the duration of a request: `async with limiter.slot(): send…`."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._ready:  # invariant: tokens are only left in _ready when nobody is queued
                available_at = heapq.heappop(self._ready)
                waiter = None
            else:
                waiter = loop.create_future()
                self._waiters.append(waiter)
        if waiter is not None:
            self.waited += 1
            try:
                available_at = await waiter
            except asyncio.CancelledError:
                with self._lock:
                    # Handed a token between the cancellation and now: pass it on rather than lose it.
                    handed = waiter.done() and not waiter.cancelled()
                if handed:
                    self._give_back(waiter.result())
                raise
        delay = available_at - self._clock()
        if delay > 0:
            try:
                await self._sleep(delay)
            except asyncio.CancelledError:
                self._give_back(available_at)
                raise
        self.acquired += 1

    def release(self) -> None:
        """The request finished (response read or failed): its token returns one period from now."""
        self._give_back(self._clock() + self.period + self.margin)

    def _give_back(self, available_at: float) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if waiter.done():  # cancelled while queued
                    continue
                waiter_loop = waiter.get_loop()
                try:
                    running = asyncio.get_running_loop()
                except RuntimeError:
                    running = None
                if running is waiter_loop:
                    waiter.set_result(available_at)
                else:
                    waiter_loop.call_soon_threadsafe(self._resolve, waiter, available_at)
                return
            heapq.heappush(self._ready, available_at)

    def _resolve(self, waiter: asyncio.Future[float], available_at: float) -> None:
        if waiter.done():
            self._give_back(available_at)
        else:
            waiter.set_result(available_at)


_registry: dict[tuple[str, int, float], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for_key(api_key: str, limit: int = DEFAULT_LIMIT, period: float = DEFAULT_PERIOD_SECONDS) -> RateLimiter:
    """The process-wide limiter of one API key (keyed by a digest, so the registry never holds the key)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    with _registry_lock:
        limiter = _registry.get((digest, limit, period))
        if limiter is None:
            limiter = _registry[(digest, limit, period)] = RateLimiter(limit, period)
        return limiter
