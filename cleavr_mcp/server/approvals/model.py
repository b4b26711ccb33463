"""A pending write in the approval ledger (the view shown is `domain.approval.View`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ...domain.approval import View

State = Literal["pending", "approved", "declined", "used"]


@dataclass
class PendingWrite:
    """One approval: a write waiting for (or holding) a person's decision."""

    id: str
    tool: str
    principal: str
    payload_sha256: str
    payload: dict[str, Any]
    view: View
    channel: str
    state: State
    created_at: float
    expires_at: float
    answers: dict[str, Any] = field(default_factory=dict)
    decided_at: float | None = None
    used_at: float | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at
