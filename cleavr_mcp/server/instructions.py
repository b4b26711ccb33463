"""The server's instructions, per principal: they are sent at `initialize` (2026-07-28: `server/discover`), so
they are worked out for the principal of that request, not once for every caller. A principal that may not act
for the sandbox's demo creditor is not told its id (#15)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.tenancy import Principal, current_principal

INSTRUCTED_METHODS = frozenset({"initialize", "server/discover"})


class InstructionsMiddleware:
    """Low-level server middleware: the instructions of an initialize / discover answer are the principal's own.
    Installed after the middleware that sets the principal (innermost), so `current_principal()` is the caller."""

    def __init__(self, instructions_for: Callable[[Principal], str]) -> None:
        self.instructions_for = instructions_for

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        result = await call_next(ctx)
        if getattr(ctx, "method", None) in INSTRUCTED_METHODS and isinstance(result, dict) and "instructions" in result:
            result = {**result, "instructions": self.instructions_for(current_principal())}
        return result
