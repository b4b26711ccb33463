"""MCP tools, one module per API area. Each tool is thin: validate → confirm → call the client → shape the result."""

from __future__ import annotations

import importlib
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from ..toolkit.registry import TOOLS, ToolSpec

if TYPE_CHECKING:
    from ..toolkit.state import AppState

TOOL_MODULES = ("users", "commission", "receivables", "disputes", "extraction", "events", "portfolio")
# Optional integrations: a module that provides `async open(state, stack)` to attach its client to the state.
INTEGRATION_MODULES: tuple[str, ...] = ("cleverinvo",)


def load_all() -> None:
    for name in TOOL_MODULES + INTEGRATION_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def all_tools() -> dict[str, ToolSpec]:
    """Import every tool module (so their decorators run) and return the registry."""
    load_all()
    return TOOLS


async def open_integrations(state: AppState, stack: AsyncExitStack) -> None:
    for name in INTEGRATION_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        opener = getattr(module, "open_integration", None)
        if opener is not None:
            await opener(state, stack)
