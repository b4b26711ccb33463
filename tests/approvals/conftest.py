"""Approval tests: the real server on the embedded sandbox, a client that cannot elicit (Claude Desktop's case),
and the page the server asked to open — read and clicked in headless Chromium, or driven over plain HTTP by an
attacker.

The MCP client lives in a blocking portal (its own event loop thread) so that the test body can drive Playwright's
sync API at the same time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox.testing import demo_user_id
from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.approvals import browser
from cleavr_mcp.testing import embedded_admin
from cleavr_mcp.toolkit.store import audit_rows_in
from tests.browser import browser_page, chromium_browser  # noqa: F401 - fixtures

DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass
class Opened:
    """The URLs the server asked the person's browser to open."""

    urls: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        return True

    def last(self) -> str:
        assert self.urls, "the server did not open the approval page"
        return self.urls[-1]


@pytest.fixture
def opened(monkeypatch) -> Opened:
    recorder = Opened()
    monkeypatch.setattr(browser, "open_url", recorder)
    return recorder


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as p:
        yield p


@dataclass
class Desk:
    """One server, a client that cannot elicit, the sandbox's admin controls."""

    settings: Settings
    portal: BlockingPortal
    client: Client
    admin: Any
    demo: str

    def call(self, tool: str, args: dict) -> Any:
        return self.portal.call(self.client.call_tool, tool, args)

    def audit(self, tool: str) -> list:
        return [r for r in audit_rows_in(Path(self.settings.data_dir) / "server.sqlite3") if r.tool == tool]

    def writes(self, tool: str) -> int:
        return sum(1 for r in self.audit(tool) if r.outcome == "done" and not r.replayed)

    def stats(self) -> dict:
        return self.portal.call(self.admin.get, "/sandbox/stats")

    def get(self, path: str) -> Any:
        return self.portal.call(self.admin.get, path)


def open_desk(portal, base: Path, mode: str = "auto", **overrides) -> tuple[Desk, Any]:
    settings = Settings(_env_file=None, data_dir=base / "data", allowed_roots=[base],
                        approval_wait_seconds=overrides.pop("approval_wait_seconds", 0), **overrides)
    server = build_server(settings)
    cm = portal.wrap_async_context_manager(Client(server, mode=mode))
    client = cm.__enter__()
    admin = embedded_admin(settings)
    return Desk(settings, portal, client, admin, demo_user_id(settings.sandbox_db_path)), cm


@pytest.fixture
def desk(portal, tmp_path) -> Iterator[Desk]:
    d, cm = open_desk(portal, tmp_path)
    try:
        yield d
    finally:
        portal.call(d.admin.aclose)
        cm.__exit__(None, None, None)


def form_of(html: str) -> dict[str, str]:
    """The hidden fields of the page's form (what an attacker who fetched the page would have)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def post(url: str, data: dict, *, origin: str | None = "same", **headers: str) -> httpx2.Response:
    base = url.split("/approvals/")[0]
    if origin == "same":
        headers["Origin"] = base
    elif origin is not None:
        headers["Origin"] = origin
    return httpx2.post(url, data=data, headers=headers, follow_redirects=False)
