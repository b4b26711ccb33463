"""The client-side limiter: burst up to the bucket, then paced; proven on a fake clock and against the sandbox."""

from __future__ import annotations

import asyncio
import time

import anyio
import httpx2
import pytest

from cleavr_mcp.cleverinvo import errors
from cleavr_mcp.cleverinvo.client import CleverInvoClient
from cleavr_mcp.cleverinvo.ratelimit import RateLimiter, limiter_for_key

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


async def test_burst_then_tokens_return_one_period_after_release():
    fake = FakeTime()
    limiter = RateLimiter(3, 10.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):  # the burst: no waiting
        await limiter.acquire()
    assert fake.sleeps == []
    fake.now += 2
    limiter.release()  # first request done at t+2 → its token is back at t+12
    fake.now += 1
    await limiter.acquire()  # at t+3 must wait 9 s
    assert fake.sleeps == [9.0] and fake.now == 1012.0


async def test_queued_callers_are_served_in_order_as_tokens_come_back():
    fake = FakeTime()
    limiter = RateLimiter(2, 5.0, clock=fake.clock, sleep=fake.sleep)
    order: list[int] = []

    async def request(i: int) -> None:
        async with limiter.slot():
            order.append(i)
            await asyncio.sleep(0)

    await asyncio.gather(*(request(i) for i in range(6)))
    # Served pair by pair in arrival order (within a pair, wake-up order is the event loop's business).
    assert order[:2] == [0, 1] and sorted(order[2:4]) == [2, 3] and sorted(order[4:]) == [4, 5]
    assert limiter.acquired == 6 and limiter.waited == 4
    # 2 at once, then each pair one period after the previous pair finished.
    assert fake.now == pytest.approx(1010.0)


async def test_a_cancelled_waiter_does_not_lose_its_token():
    limiter = RateLimiter(1, 0.05)
    await limiter.acquire()
    waiter = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    with anyio.fail_after(1):
        await limiter.acquire()  # the token went back to the bucket, not to the cancelled waiter


def test_one_limiter_per_key_per_process():
    a = limiter_for_key("cinv_key_a")
    assert limiter_for_key("cinv_key_a") is a and limiter_for_key("cinv_key_b") is not a
    assert (a.limit, a.period) == (120, 60.0)
    http = httpx2.AsyncClient()
    assert CleverInvoClient(http, api_key="cinv_key_a").limiter is a
    assert CleverInvoClient(http, api_key="cinv_key_a", limiter=None).limiter is None
    from cleavr_mcp.cleverinvo import ratelimit

    assert not any("cinv_key_a" in str(k) for k in ratelimit._registry)


async def test_burst_of_300_gets_no_429_and_takes_at_least_the_minimum(make_http_sandbox):
    """120 per 1.5 s stands for 120 per minute: same rule, 40× faster."""
    limit, period, calls = 120, 1.5, 300
    sandbox = make_http_sandbox(rate_limit_per_minute=limit, rate_limit_period_seconds=period)
    limiter = RateLimiter(limit, period)
    statuses: list[int] = []
    async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=150)) as http:
        # max_attempts=1: a single 429 would raise instead of being retried away.
        ci = CleverInvoClient(http, api_key=sandbox.api_key, base_url=sandbox.base_url, limiter=limiter,
                              max_attempts=1)

        async def one() -> None:
            try:
                page = await ci.list_invoices(limit=1)
                statuses.append(200 if page.total == 40 else -1)
            except errors.CleverInvoError as exc:
                statuses.append(exc.status or -2)

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(one)
        elapsed = time.monotonic() - started

    assert statuses.count(429) == 0 and statuses == [200] * calls
    minimum = (calls - 1) // limit * period  # 120 at once, 120 a period later, the last 60 a period after that
    assert elapsed >= minimum
    assert limiter.waited >= calls - limit
