"""Tool metadata in one place: every tool declares its toolset, kind and money class; annotations derive from them.

Tool modules under `cleavr_mcp/tools/` decorate plain async functions with `@tool(...)`; `server.app` registers
the ones the policy allows. Nothing about visibility, confirmation or audit is decided inside a tool.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mcp.types import ToolAnnotations


class Kind(StrEnum):
    READ = "read"  # no state change anywhere
    WRITE = "write"  # changes state, additive or reversible
    DESTRUCTIVE = "destructive"  # irreversible: ends a recovery, writes off money


class Toolset(StrEnum):
    USERS = "users"
    RECEIVABLES = "receivables"
    COMMISSION = "commission"
    DISPUTES = "disputes"
    EXTRACTION = "extraction"
    EVENTS = "events"
    CLEVERINVO = "cleverinvo"


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Any]
    name: str
    title: str
    toolset: Toolset
    kind: Kind
    money: bool  # moves money or starts/stops legal recovery: removable with one switch
    idempotent: bool
    open_world: bool  # its effect reaches people outside this conversation (debtors contacted, KYB started)
    view: str | None = None  # the MCP Apps view (ui:// resource) that renders its result, in hosts that have Apps
    app_only: bool = False  # called by a view only: hosts keep it out of the model's tool list

    @property
    def meta(self) -> dict[str, Any] | None:
        """`_meta.ui` per the MCP Apps extension: the view bound to this tool and who may call it."""
        if self.view is None:
            return None
        ui: dict[str, Any] = {"resourceUri": self.view}
        if self.app_only:
            ui["visibility"] = ["app"]
        return {"ui": ui}

    @property
    def read_only(self) -> bool:
        return self.kind is Kind.READ

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.kind is Kind.DESTRUCTIVE,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")


TOOLS: dict[str, ToolSpec] = {}


def tool(
    *,
    title: str,
    toolset: Toolset,
    kind: Kind,
    idempotent: bool,
    open_world: bool,
    money: bool = False,
    view: str | None = None,
    app_only: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__
        if name in TOOLS and TOOLS[name].fn is not fn:
            raise ValueError(f"tool {name} declared twice")
        if not fn.__doc__:
            raise ValueError(f"tool {name} needs a docstring: it is the model's description")
        TOOLS[name] = ToolSpec(fn, name, title, toolset, kind, money, idempotent, open_world, view, app_only)
        return fn

    return register
