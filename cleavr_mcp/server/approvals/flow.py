"""The out-of-band approval of one write (URL-mode elicitation or the approval page), for `writes.approve`.

Returns the person's answers when they approved on the page that showed this exact payload (the decision is spent
now), or what the tool must answer instead: declined, still waiting (call again with the same arguments), or an
error when nobody can be reached.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult

from ...domain.approval import View
from ...domain.tenancy import current_principal
from .channels import SETTING, choose
from .service import ApprovalService, Decision

INPUT_KEY = "cleavr-mcp/approval"
_MODERN = "2026-07-28"


class UrlElicitationRequired(MCPError):
    """Raised by a tool on 2026-07-28 to ask for URL-mode elicitation; `CleavrMCP.call_tool` turns it into the
    InputRequiredResult (a tool with resolvers cannot return one itself)."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(code=-32042, message="URL elicitation required")
        self.input_required_result = InputRequiredResult(input_requests={
            INPUT_KEY: ElicitRequest(params=ElicitRequestURLParams(message=message, url=url))})


def principal_of(ctx: Context) -> str:
    """Who is asking: the principal's name (domain.tenancy, set by the server for this request) — the name the
    ledger binds a pending write to and the approval page's sign-in must match."""
    return current_principal().name


def service_of(state) -> ApprovalService:
    return state.extras["approvals"]


def _modern(ctx: Context) -> bool:
    from mcp_types.version import is_version_at_least

    version = ctx.protocol_version
    return version is not None and is_version_at_least(version, _MODERN)


async def out_of_band(ctx: Context, state, *, tool: str, payload: dict[str, Any], digest: str, view: View,
                      channel: str) -> Decision:
    """Ask (or find the answer of) the person for exactly this write over `channel` (url | page-local | page-link)."""
    service = service_of(state)
    settings = state.settings
    principal = principal_of(ctx)
    authenticated = settings.auth_configured and getattr(ctx.request_context, "request", None) is not None

    async def progress(done: float, total: float) -> None:
        try:
            await ctx.report_progress(done, total, "Waiting for the person's decision in the browser")
        except Exception:  # noqa: BLE001 - progress is best effort (no token, JSON responses…)
            pass

    if channel != "url":
        where = "link" if channel == "page-link" else "local"
        return await service.request(tool=tool, principal=principal, payload=payload, digest=digest, view=view,
                                     where=where, wait_seconds=settings.approval_wait_seconds, progress=progress)

    # URL mode: the client shows the link to the person (never to the model); the page decides as for the page.
    where = "url-link" if authenticated else "url-local"
    answer = (ctx.input_responses or {}).get(INPUT_KEY) if _modern(ctx) else None
    if _modern(ctx) and answer is not None and getattr(answer, "action", "accept") != "accept":
        return await _close_pending(service, tool, principal, digest)
    decision = await service.request(tool=tool, principal=principal, payload=payload, digest=digest, view=view,
                                     where=where, wait_seconds=0 if answer is None else settings.approval_wait_seconds,
                                     progress=progress, open_browser=False)
    if decision.state != "pending" or decision.url is None:
        return decision
    message = view.message() + "\n\nOpen the link to approve or decline on the approval page."
    if _modern(ctx):
        raise UrlElicitationRequired(message, decision.url)
    elicitation_id = hashlib.sha256(decision.url.encode()).hexdigest()[:32]
    result = await ctx.elicit_url(message, decision.url, elicitation_id)
    if result.action != "accept":
        return await _close_pending(service, tool, principal, digest)
    final = await service.request(tool=tool, principal=principal, payload=payload, digest=digest, view=view,
                                  where=where, wait_seconds=settings.approval_wait_seconds, progress=progress,
                                  open_browser=False)
    if final.state != "pending":
        try:
            await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
        except Exception:  # noqa: BLE001 - the notification is a courtesy; the result carries the outcome
            pass
    return final


class ServerApprovals:
    """The server's approval channels, as the write path calls them (toolkit.approvals.ApprovalChannels):
    `choose` picks the channel from the setting and the client, `out_of_band` asks on the page or by URL mode."""

    setting = SETTING

    def choose(self, ctx: Context, settings, *, form_possible: bool) -> str:
        return choose(ctx, settings, form_possible=form_possible)

    async def out_of_band(self, ctx: Context, state, **write: Any) -> Decision:
        return await out_of_band(ctx, state, **write)


async def _close_pending(service: ApprovalService, tool: str, principal: str, digest: str) -> Decision:
    """The person dismissed the URL request in their client: the pending write is declined and spent."""
    await service.close_pending(tool, principal, digest)
    return Decision("declined", {})
