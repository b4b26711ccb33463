"""Argument completions for the prompts and the receivable resource template.

Registered on the low-level server (not `@mcp.completion()`) because completing receivable ids needs the
lifespan state (the API client), which the MCPServer-level decorator does not pass.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.types import CompleteRequestParams, CompleteResult, Completion, PromptReference, ResourceTemplateReference

from ..cleavr.contract import EVIDENCE_STATUSES, LIST_LIMIT_MAX
from ..domain.tenancy import current_principal
from ..events.hub import RECEIVABLE_URI

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from ..events.hub import EventHub
    from ..toolkit.state import AppState

logger = logging.getLogger("cleavr_mcp.prompts")
MAX_VALUES = 100  # the protocol's cap per completion
MAX_PDF_SCAN = 2000


def _match(values: list[str], prefix: str) -> Completion:
    unique = list(dict.fromkeys(v for v in values if v.startswith(prefix)))
    return Completion(values=unique[:MAX_VALUES], total=len(unique), has_more=len(unique) > MAX_VALUES)


async def _receivable_ids(state: AppState | None, hub: EventHub, *, disputed_only: bool) -> list[str]:
    """Receivables named by unhandled events first (what needs attention), then the API's newest ones: only the
    caller's creditors' (the inbox and domain.scope read current_principal())."""
    ids = list(await hub.inbox.receivable_ids(handled="unhandled"))
    if state is None:
        return ids
    from ..cleavr.models import ListReceivablesQuery
    from ..domain import scope

    try:
        statuses = sorted(EVIDENCE_STATUSES) if disputed_only else [None]
        for status in statuses:
            rows, _ = await scope.receivables_page(state.client, ListReceivablesQuery(limit=LIST_LIMIT_MAX,
                                                                                      status=status))
            ids += [r.id for r in rows]
    except Exception as exc:  # noqa: BLE001 - completions are best effort
        logger.info("receivable completion without the API: %s", type(exc).__name__)
    return ids


def _pdf_paths(state: AppState | None, prefix: str) -> list[str]:
    if state is None or not current_principal().every_creditor:  # the server's folders hold every creditor's files
        return []
    found: list[str] = []
    for root in state.settings.allowed_roots:
        try:
            for i, path in enumerate(Path(root).expanduser().rglob("*.pdf")):
                if i >= MAX_PDF_SCAN:
                    break
                text = str(path)
                if text.startswith(prefix) or path.name.startswith(prefix):
                    found.append(text)
        except OSError:
            continue
    return sorted(found)


async def complete(state: AppState | None, hub: EventHub, ref: Any, name: str, value: str) -> Completion:
    from .workflows import AGE_TIERS

    if isinstance(ref, ResourceTemplateReference) and ref.uri == RECEIVABLE_URI and name == "receivable_id":
        return _match(await _receivable_ids(state, hub, disputed_only=False), value)
    if not isinstance(ref, PromptReference):
        return Completion(values=[])
    prompt = ref.name
    if name == "receivable_id":
        return _match(await _receivable_ids(state, hub, disputed_only=prompt == "handle_dispute"), value)
    if name == "user_id":
        principal = current_principal()
        users = [state.demo_user_id] if state is not None and state.demo_user_id else []
        users += sorted(principal.user_ids or ())
        users += [e.user_id for e in (await hub.inbox.list(limit=100))[0] if e.user_id]
        return _match([u for u in users if principal.may_act_for(u)], value)
    if name == "focus":
        return _match(["attention", "payments", "all"], value)
    if name == "min_days_overdue":
        return _match(["30", *AGE_TIERS], value)
    if name == "path" and prompt == "submit_invoice_pdf":
        paths = _pdf_paths(state, value)
        return Completion(values=paths[:MAX_VALUES], total=len(paths), has_more=len(paths) > MAX_VALUES)
    return Completion(values=[])


def register_completions(server: MCPServer, hub: EventHub) -> None:
    async def handler(ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        state = getattr(ctx, "lifespan_context", None) or hub.state
        completion = await complete(state, hub, params.ref, params.argument.name, params.argument.value or "")
        return CompleteResult(completion=completion)

    server._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, handler)
