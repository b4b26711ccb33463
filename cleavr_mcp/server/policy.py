"""Which tools exist for a caller: read-only, toolsets, allow/deny lists and the money switch, in one place.

The server's settings are a ceiling. Over HTTP, request headers may only tighten it (never widen): a header can
turn read-only on, narrow toolsets or tools, add exclusions, or remove money tools — nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..domain.tenancy import Principal
from ..toolkit.registry import Toolset, ToolSpec

CREATE_USER = "create_user"  # the one tool that needs the principal's create_users

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
    create_users: bool = True  # create_user is offered (a principal without create_users loses it)
    # The CleverInvo toolset is offered. A principal acting for some creditors only has it with its own CleverInvo
    # account (cleverinvo_api_key_env): the server's account is one customer's invoices, not everyone's.
    cleverinvo: bool = True

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
        if not self.create_users and spec.name == CREATE_USER:
            return False
        if not self.cleverinvo and spec.toolset is Toolset.CLEVERINVO:
            return False
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
        if not self.create_users and spec.name == CREATE_USER:
            return "this caller may not create creditors (create_users is off for its principal)"
        if not self.cleverinvo and spec.toolset is Toolset.CLEVERINVO:
            return "CleverInvo needs this caller's own account (cleverinvo_api_key_env in its principal)"
        if spec.name in self.exclude:
            return "it is excluded (exclude-tools)"
        if self.no_money and spec.money:
            return "money tools are switched off (no-money)"
        if self.read_only and not spec.read_only:
            return "the server is read-only"
        if self.tools is not None and spec.name not in self.tools:
            return "it is not in the allowed tool list"
        return f"its toolset '{spec.toolset.value}' is not enabled"

    def for_principal(self, principal: Principal) -> ToolPolicy:
        """The server's ceiling ∩ the principal's (read-only, no money, toolsets, create_users)."""
        cleverinvo = self.cleverinvo and (principal.every_creditor or principal.cleverinvo_api_key_env is not None)
        if (not principal.read_only and not principal.no_money and principal.toolsets is None
                and principal.create_users >= self.create_users and cleverinvo == self.cleverinvo):
            return self
        toolsets = principal.toolsets
        if toolsets is not None and self.toolsets is not None:
            toolsets = toolsets & self.toolsets
        return replace(self, read_only=self.read_only or principal.read_only,
                       no_money=self.no_money or principal.no_money,
                       toolsets=self.toolsets if toolsets is None else toolsets,
                       create_users=self.create_users and principal.create_users, cleverinvo=cleverinvo)

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
