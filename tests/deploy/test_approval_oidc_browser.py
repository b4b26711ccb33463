"""The approval page's OIDC login in a real headless Chromium: the provider is another site (`localhost`, the
server is on 127.0.0.1), so the browser applies the real cookie rules — the SameSite=Lax round-trip cookie comes
back on the provider's cross-site redirect, and the SameSite=Strict session cookie set there is sent once the page
continues same-site. The person signs in, approves, and the write runs once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.http import build_http_app
from tests.browser import browser_page, chromium_browser  # noqa: F401 - fixtures

from .conftest import HttpMCP, audit_rows, bound_socket, running_app, submission
from .oidc_provider import running_provider, signing_in_with


class Desk:
    def __init__(self, base, settings, provider, demo) -> None:
        self.base, self.settings, self.provider, self.demo = base, settings, provider, demo

    def call(self, body: dict) -> dict:
        async def go() -> dict:
            headers = {"Authorization": f"Bearer {self.provider.access_token('alice')}"}
            async with HttpMCP(f"{self.base}/mcp", headers) as client:
                return (await client.call_tool("submit_receivable", body)).structured_content

        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
            return pool.submit(anyio.run, go).result()


@pytest.fixture(scope="module")
def desk(sandbox, tmp_path_factory) -> Iterator[Desk]:
    with running_provider(host="localhost") as provider:
        sock, port = bound_socket()
        base = f"http://127.0.0.1:{port}"
        settings = signing_in_with(provider, sandbox, tmp_path_factory.mktemp("oidc-browser"), port)
        with running_app(build_http_app(build_server(settings), settings), sock):
            yield Desk(base, settings, provider, sandbox.demo_user)


def test_sign_in_with_the_provider_then_approve(desk, browser_page):
    page = browser_page
    body = {"receivable": submission(desk.demo, number="OIDC-001")}
    out = desk.call(body)
    assert out["status"] == "approval_pending"
    page.goto(out["approval_url"])
    link = page.get_by_role("link", name="Sign in with localhost")
    with page.expect_navigation(url=out["approval_url"]):
        link.click()  # → the provider (another site) → the callback → same-site onwards to the approval
    assert page.get_by_text("You are signed in").is_visible()
    assert page.get_by_label("One-time sign-in code").count() == 0
    session = next(c for c in page.context.cookies() if c["name"] == "cleavr-approval")
    assert session["sameSite"] == "Strict" and session["httpOnly"]
    assert not [c for c in page.context.cookies() if c["name"] == "cleavr-approval-oidc"]  # spent
    page.get_by_role("button", name="Approve", exact=True).click()
    assert "Approved" in page.get_by_role("status").inner_text()
    assert desk.call(body)["status"] == "done"
    done = [r for r in audit_rows(desk.settings) if r.tool == "submit_receivable" and r.outcome == "done"]
    assert len(done) == 1 and done[0].confirmed_by == "page"
