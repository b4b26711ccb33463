"""Who is calling, and for which creditors they may act: the principal of the current request.

The server's policy layer works out the principal (stdio: the local user; HTTP: the verified bearer token or JWT,
looked up in the principals file) and sets it for the duration of one request with `acting_as`. Every layer below
reads it with `current_principal()`: the server's argument guard, the list tools' filters, the event inbox, the
resources. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

EVERY_CREDITOR = "*"


@dataclass(frozen=True)
class Principal:
    name: str  # shown in the audit; unique in the principals file
    user_ids: frozenset[str] | None = None  # the Cleavr creditors it may act for; None = every creditor ("*")
    read_only: bool = False
    no_money: bool = False
    toolsets: frozenset[str] | None = None  # None = every toolset the server allows
    create_users: bool = False  # may call create_user; the users it creates join its user_ids
    cleverinvo_api_key_env: str | None = None  # the variable holding its own CleverInvo key (never the key)
    source: str = "local"  # local | token (legacy CLEAVR_MCP_AUTH_TOKENS) | principals-file | jwt

    @property
    def every_creditor(self) -> bool:
        return self.user_ids is None

    def may_act_for(self, user_id: str | None) -> bool:
        return self.user_ids is None or (user_id is not None and user_id in self.user_ids)

    def visible(self, user_ids: Iterable[str | None]) -> list[bool]:
        return [self.may_act_for(u) for u in user_ids]

    def with_users(self, granted: Iterable[str]) -> Principal:
        """This principal plus the creditors granted to it since (the users it created)."""
        if self.user_ids is None:
            return self
        extra = frozenset(granted) - self.user_ids
        return replace(self, user_ids=self.user_ids | extra) if extra else self


# stdio, and an HTTP server without auth on loopback: the one person at this machine, for every creditor.
LOCAL = Principal(name="local", create_users=True)

_CURRENT: ContextVar[Principal] = ContextVar("cleavr_mcp_principal", default=LOCAL)


def current_principal() -> Principal:
    return _CURRENT.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    token = _CURRENT.set(principal)
    try:
        yield principal
    finally:
        _CURRENT.reset(token)
