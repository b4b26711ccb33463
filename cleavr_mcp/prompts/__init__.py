"""MCP prompts: the recovery workflows (submit from a PDF, recover overdue invoices, handle a dispute, review the
portfolio, onboard a creditor), with argument completions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from ..events.hub import EventHub

PROMPTS = ("submit_invoice_pdf", "recover_overdue_invoices", "handle_dispute", "review_portfolio", "onboard_creditor")


def register_prompts(server: MCPServer, hub: EventHub) -> None:
    from .completions import register_completions
    from .workflows import register_workflows

    register_workflows(server, hub)
    register_completions(server, hub)
