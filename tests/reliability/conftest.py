"""Reliability tests: the real server on the embedded sandbox, driven by real MCP clients.

Hypothesis examples are synchronous; the MCP client lives in an event loop in a blocking portal (one per module),
so thousands of calls share one connection, as they would from a host.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.types import ElicitResult

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load_bench_common():
    """benchmarks/common.py (sandbox process, error-shape checks), shared with the soak and the benchmarks."""
    spec = importlib.util.spec_from_file_location("cleavr_bench_common", BENCHMARKS / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = _load_bench_common()


async def accept_everything(context, params) -> ElicitResult:
    """A human who ticks every box of every form (confirm, proceed without phone…)."""
    props = (params.requested_schema or {}).get("properties", {})
    content: dict[str, Any] = {}
    for name, prop in props.items():
        if prop.get("type") == "boolean":
            content[name] = True
        elif prop.get("type") == "string":
            content[name] = "+33612345678" if "phone" in name else "someone@example.com"
    return ElicitResult(action="accept", content=content)


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as p:
        yield p


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory) -> Settings:
    base = tmp_path_factory.mktemp("fuzz")
    docs = base / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("not a pdf")
    return Settings(_env_file=None, data_dir=base / "data", allowed_roots=[docs])


@pytest.fixture(scope="module")
def clients(portal, fuzz_settings) -> Iterator[dict[str, Client]]:
    """One server, one in-memory client per protocol era, open for the whole module."""
    server = build_server(fuzz_settings)
    opened = {}
    managers = []
    for mode in ("auto", "legacy"):
        cm = portal.wrap_async_context_manager(Client(server, mode=mode, elicitation_callback=accept_everything))
        managers.append(cm)
        opened[mode] = cm.__enter__()
    try:
        yield opened
    finally:
        for cm in reversed(managers):
            cm.__exit__(None, None, None)
