"""Which tools exist for a caller: read-only, toolsets, allow/deny lists and the money switch, in one place.

The server's settings are a ceiling. Over HTTP, request headers may only tighten it (never widen): a header can
turn read-only on, narrow toolsets or tools, add exclusions, or remove money tools — nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..toolkit.registry import ToolSpec

HEADER_READ_ONLY = "x-cleavr-read-only"
HEADER_TOOLSETS = "x-cleavr-toolsets"
HEADER_TOOLS = "x-cleavr-tools"
HEADER_EXCLUDE = "x-cleavr-exclude-tools"
HEADER_NO_MONEY = "x-cleavr-no-money"

_TRUE = {"1", "true", "yes", "on"}


def _names(value: str | list[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    names = frozenset(v.strip() for v in items if v and v.strip())
    return names or None


@dataclass(frozen=True)
class ToolPolicy:
    read_only: bool = False
    toolsets: frozenset[str] | None = None  # None = every toolset
    tools: frozenset[str] | None = None  # None = every tool (of the allowed toolsets)
    exclude: frozenset[str] = frozenset()
    no_money: bool = False

    @classmethod
    def from_settings(cls, settings) -> ToolPolicy:
        return cls(
            read_only=settings.read_only,
            toolsets=_names(settings.toolsets),
            tools=_names(settings.tools),
            exclude=_names(settings.exclude_tools) or frozenset(),
            no_money=settings.no_money,
        )

    def allows(self, spec: ToolSpec) -> bool:
        if spec.name in self.exclude:
            return False
        if self.no_money and spec.money:
            return False
        if self.read_only and not spec.read_only:
            return False
        if self.tools is not None and spec.name not in self.tools:
            return False
        if self.toolsets is not None and spec.toolset.value not in self.toolsets:
            return False
        return True

    def why_not(self, spec: ToolSpec) -> str:
        if spec.name in self.exclude:
            return "it is excluded (exclude-tools)"
        if self.no_money and spec.money:
            return "money tools are switched off (no-money)"
        if self.read_only and not spec.read_only:
            return "the server is read-only"
        if self.tools is not None and spec.name not in self.tools:
            return "it is not in the allowed tool list"
        return f"its toolset '{spec.toolset.value}' is not enabled"

    def tightened(self, headers: Mapping[str, str] | None) -> ToolPolicy:
        """This policy narrowed by request headers; a header can never re-enable what the ceiling removed."""
        if not headers:
            return self
        lower = {k.lower(): v for k, v in headers.items()}
        policy = self
        if lower.get(HEADER_READ_ONLY, "").strip().lower() in _TRUE:
            policy = replace(policy, read_only=True)
        if lower.get(HEADER_NO_MONEY, "").strip().lower() in _TRUE:
            policy = replace(policy, no_money=True)
        if (asked := _names(lower.get(HEADER_TOOLSETS))) is not None:
            policy = replace(policy, toolsets=asked if policy.toolsets is None else policy.toolsets & asked)
        if (asked := _names(lower.get(HEADER_TOOLS))) is not None:
            policy = replace(policy, tools=asked if policy.tools is None else policy.tools & asked)
        if (asked := _names(lower.get(HEADER_EXCLUDE))) is not None:
            policy = replace(policy, exclude=policy.exclude | asked)
        return policy
