"""What a sandbox instance is told at start: where its database lives, which faults to inject, how fast tokens expire."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cleavr.contract import ACCESS_TOKEN_TTL_SECONDS, DEFAULT_RATE_LIMIT_PER_SECOND

if TYPE_CHECKING:
    from ..config import Settings


@dataclass
class SandboxConfig:
    """Options of one sandbox app. Faults are off by default and can be changed at runtime (`PUT /sandbox/faults`)."""

    db_path: Path
    # --- fault injection (applies to /v1 only, and to /oauth/token when faults_on_oauth) ---------------------
    fault_5xx_rate: float = 0.0  # share of requests answered 503 SERVICE_UNAVAILABLE before anything is done
    fault_429_rate: float = 0.0  # share of requests answered 429 RATE_LIMITED before anything is done
    fault_drop_rate: float = 0.0  # share of requests processed and committed, then the connection is dropped
    latency_ms: int = 0  # added before every faulted-path request
    retry_after_seconds: int = 1  # Retry-After of the injected 429 (0 keeps fault tests fast)
    fault_seed: int | None = None  # deterministic fault sequence when set
    faults_on_oauth: bool = False  # tests usually need a reliable token endpoint
    # --- behaviour -------------------------------------------------------------------------------------------
    rate_limit_per_second: int = DEFAULT_RATE_LIMIT_PER_SECOND  # per access token; real 429 + Retry-After
    access_token_ttl_seconds: int = ACCESS_TOKEN_TTL_SECONDS
    seed: bool = True  # create the demo creditor (active) on first start
    public_base_url: str | None = None  # for onboarding links; default: the base URL the request came in on
    webhook_delivery: bool = False  # run the delivery loop (started lazily on the first request)
    webhook_retry_base_seconds: float = 60.0  # first retry delay; later ones grow x3.15 (8 attempts ~ 24 h)
    cleverinvo: bool = True  # mount the CleverInvo sandbox under /cleverinvo/api/v1 (same database file)
    cleverinvo_rate_limit_per_minute: int = 120  # per API key, as CleverInvo's Business plan
    extra: dict[str, Any] = field(default_factory=dict)  # room for options of later issues

    def __post_init__(self) -> None:
        self.db_path = Path(self.db_path)
        for name in ("fault_5xx_rate", "fault_429_rate", "fault_drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.rate_limit_per_second < 1:
            raise ValueError("rate_limit_per_second must be at least 1")
        if self.access_token_ttl_seconds < 1:
            raise ValueError("access_token_ttl_seconds must be at least 1")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SandboxConfig:
        values: dict[str, Any] = {
            "db_path": settings.sandbox_db_path,
            "fault_5xx_rate": settings.sandbox_fault_5xx_rate,
            "fault_429_rate": settings.sandbox_fault_429_rate,
            "fault_drop_rate": settings.sandbox_fault_drop_rate,
            "latency_ms": settings.sandbox_latency_ms,
            "rate_limit_per_second": settings.sandbox_rate_limit_per_second,
            "seed": settings.sandbox_seed,
            "cleverinvo_rate_limit_per_minute": settings.cleverinvo_rate_limit_per_minute,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"unknown SandboxConfig option(s): {', '.join(sorted(unknown))}")
        return cls(**values)

    def with_(self, **changes: Any) -> SandboxConfig:
        return replace(self, **changes)
