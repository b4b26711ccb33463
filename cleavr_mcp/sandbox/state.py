"""Runtime state of one sandbox app: its store, the fault switches, the rate limiter, the delivery worker."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .config import SandboxConfig
from .store import Store

FaultKind = Literal["5xx", "429", "drop"]


class FaultSettings(BaseModel):
    """Body of `PUT /sandbox/faults` (and its answer). PUT replaces: omitted fields go back to 'off'."""

    model_config = ConfigDict(extra="forbid")

    fault_5xx_rate: float = Field(0.0, ge=0, le=1, description="Share of requests answered 503 before any work")
    fault_429_rate: float = Field(0.0, ge=0, le=1, description="Share of requests answered 429 + Retry-After")
    fault_drop_rate: float = Field(
        0.0, ge=0, le=1, description="Share of requests processed and committed, then the connection is dropped"
    )
    latency_ms: int = Field(0, ge=0, le=60_000, description="Added before every faulted-path request")
    retry_after_seconds: int = Field(1, ge=0, le=3600, description="Retry-After of injected 429s")
    fault_seed: int | None = Field(None, description="Seed of the fault dice (deterministic sequence)")
    faults_on_oauth: bool = Field(False, description="Also inject faults on /oauth/token and /oauth/authorize")
    next_faults: list[FaultKind] = Field(
        default_factory=list,
        description="Faults forced on the next requests, in order (before the dice): e.g. ['5xx', '429', 'drop']",
    )
    rate_limit_per_second: int | None = Field(
        None, ge=1, le=100_000, description="Per-token rate limit; null = the configured value"
    )
    ocr_answer_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of every OCR answer replaced by these values, to test a client's second reading: "
        "contract paths to values, e.g. {'invoice.amount': '5000.00', 'invoice.numbers': ['F-0000']}; "
        "'raw_text': null answers without the PDF's text, as the live API does",
    )

    @field_validator("ocr_answer_overrides")
    @classmethod
    def _contract_paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            if path == "raw_text":  # null: answer like the live API, which returns no text of the PDF
                continue
            section, _, key = path.partition(".")
            if section not in ("invoice", "debtor") or not key or "." in key:
                raise ValueError(f"{path!r} is not a field path such as 'invoice.amount' or 'debtor.company_name'")
        return value


@dataclass
class Faults:
    settings: FaultSettings
    rng: random.Random
    queue: deque[str] = field(default_factory=deque)

    @classmethod
    def from_settings(cls, settings: FaultSettings) -> Faults:
        return cls(settings=settings, rng=random.Random(settings.fault_seed), queue=deque(settings.next_faults))

    def draw(self) -> str | None:
        """The fault for this request, if any: the forced queue first, then one roll of the dice per kind."""
        if self.queue:
            return self.queue.popleft()
        s = self.settings
        roll = self.rng.random()
        for kind, rate in (("5xx", s.fault_5xx_rate), ("429", s.fault_429_rate), ("drop", s.fault_drop_rate)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def snapshot(self) -> FaultSettings:
        return self.settings.model_copy(update={"next_faults": list(self.queue)})


class RateLimiter:
    """Token bucket per key (the access token): `rate` requests per second, bursts of up to `rate`."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle callers
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> int:
        return max(1, math.ceil(wait))


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.db_path)
        self.access_token_ttl_seconds = config.access_token_ttl_seconds
        self.faults = Faults.from_settings(self.fault_settings_from_config(config))
        self.limiter = RateLimiter(config.rate_limit_per_second)
        self._delivery_task: asyncio.Task | None = None
        self._delivery_wakeup: asyncio.Event | None = None
        self.delivery_lock: asyncio.Lock | None = None

    @staticmethod
    def fault_settings_from_config(config: SandboxConfig) -> FaultSettings:
        return FaultSettings(
            fault_5xx_rate=config.fault_5xx_rate,
            fault_429_rate=config.fault_429_rate,
            fault_drop_rate=config.fault_drop_rate,
            latency_ms=config.latency_ms,
            retry_after_seconds=config.retry_after_seconds,
            fault_seed=config.fault_seed,
            faults_on_oauth=config.faults_on_oauth,
        )

    def set_faults(self, settings: FaultSettings) -> FaultSettings:
        self.faults = Faults.from_settings(settings)
        rate = settings.rate_limit_per_second or self.config.rate_limit_per_second
        if rate != self.limiter.rate:
            self.limiter = RateLimiter(rate)
        return self.current_faults()

    def current_faults(self) -> FaultSettings:
        return self.faults.snapshot().model_copy(update={"rate_limit_per_second": self.limiter.rate})

    # --- webhook delivery worker (started lazily: ASGITransport runs no lifespan) ----------------------------
    def ensure_background(self) -> None:
        if not self.config.webhook_delivery:
            return
        loop = asyncio.get_running_loop()
        task = self._delivery_task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        from .webhooks import delivery_loop

        self._delivery_wakeup = asyncio.Event()
        self.delivery_lock = asyncio.Lock()
        self._delivery_task = loop.create_task(delivery_loop(self), name="cleavr-sandbox-webhooks")

    def wake_delivery(self) -> None:
        if self._delivery_wakeup is not None:
            self._delivery_wakeup.set()

    async def wait_for_work(self, timeout: float) -> None:
        event = self._delivery_wakeup
        if event is None:
            await asyncio.sleep(timeout)
            return
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        event.clear()

    def get_delivery_lock(self) -> asyncio.Lock:
        if self.delivery_lock is None:
            self.delivery_lock = asyncio.Lock()
        return self.delivery_lock

    async def aclose(self) -> None:
        task, self._delivery_task = self._delivery_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    def close(self) -> None:
        task = self._delivery_task
        if task is not None and not task.done():
            task.get_loop().call_soon_threadsafe(task.cancel)
        self.store.close()
