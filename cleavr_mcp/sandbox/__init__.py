"""The Cleavr Connect sandbox: a faithful local stand-in for the API (FastAPI + SQLite).

    from cleavr_mcp.sandbox import SandboxConfig, create_app
    app = create_app(SandboxConfig(db_path=tmp / "sandbox.sqlite3"))

Names load lazily so that `cleavr_mcp.extraction` / `.cleverinvo` can be imported without FastAPI start-up cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import SandboxConfig

__all__ = ["SandboxConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "SandboxConfig":
        from .config import SandboxConfig

        return SandboxConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
