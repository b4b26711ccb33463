"""Which channel carries the person's yes, from the setting and what the client can do.

CLEAVR_MCP_CONFIRM_CHANNEL:
- ``auto`` (default): form elicitation when the client offers it; else URL-mode elicitation when it advertises
  that; else the approval page (opened by the server in the person's browser when the server runs on their
  machine; sent as a link, behind the person's own sign-in, over authenticated HTTP).
- ``elicitation``: only the client's own elicitation (form, else URL mode); without it risky tools are refused.
- ``browser``: always the approval page, even when the client could elicit.
- ``model-token``: form elicitation when offered; else a confirmation token handed to the model — the agent
  confirms for the person (audited ``confirmed_by=model-token``). An explicit opt-in.
"""

from __future__ import annotations

from typing import Literal

from mcp.server.mcpserver import Context

Channel = Literal["form", "url", "page-local", "page-link", "model-token", "none"]
SETTING = "CLEAVR_MCP_CONFIRM_CHANNEL"


def can_elicit_url(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    return caps is not None and caps.elicitation is not None and caps.elicitation.url is not None


def url_elicitation_possible(ctx: Context) -> bool:
    """The client advertises URL-mode elicitation on a connection where the server can send it (2026-07-28:
    in an InputRequiredResult; 2025-era: over the back-channel)."""
    from mcp_types.version import is_version_at_least

    if not can_elicit_url(ctx):
        return False
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, "2026-07-28"):
        return True
    return bool(getattr(ctx.session, "can_send_request", False))


def over_http(ctx: Context) -> bool:
    return getattr(ctx.request_context, "request", None) is not None


def page_where(ctx: Context, settings) -> Literal["page-local", "page-link"]:
    """The page is opened locally unless the server is an authenticated HTTP deployment (possibly remote)."""
    if over_http(ctx) and settings.auth_configured:
        return "page-link"
    return "page-local"


def choose(ctx: Context, settings, *, form_possible: bool) -> Channel:
    setting = settings.effective_confirm_channel
    if setting == "browser":
        return page_where(ctx, settings)
    if form_possible:
        return "form"
    if setting == "model-token":
        return "model-token"
    if url_elicitation_possible(ctx):
        return "url"
    if setting == "elicitation":
        return "none"
    return page_where(ctx, settings)
