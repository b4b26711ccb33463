"""How a person approves a write when no form can carry the question, as the write path sees it.

The server's approvals (`server/approvals/`: the channel setting, the approval page, URL-mode elicitation)
implement `ApprovalChannels` and install it on the state (`AppState.approvals`); `writes.approve` only calls it.
"""

from __future__ import annotations

from typing import Any, Protocol

from mcp.server.mcpserver import Context

from ..config import Settings
from ..domain.approval import View


class OutOfBandDecision(Protocol):
    state: str  # approved | declined | pending | unavailable
    answers: dict[str, Any]  # the person's answers, when approved
    url: str | None  # the approval page, when the person is to be sent a link


class ApprovalChannels(Protocol):
    setting: str  # the setting that picks the channel, named in errors

    def choose(self, ctx: Context, settings: Settings, *, form_possible: bool) -> str:
        """form | url | page-local | page-link | model-token | none"""
        ...

    async def out_of_band(self, ctx: Context, state: Any, *, tool: str, payload: dict[str, Any], digest: str,
                          view: View, channel: str) -> OutOfBandDecision:
        """Ask (or find the answer of) the person for exactly this write over `channel` (url | page-*)."""
        ...
