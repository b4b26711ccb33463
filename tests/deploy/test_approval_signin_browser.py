"""The approval page's sign-in in a real headless Chromium, over real HTTP with bearer auth (the link reaches the
person through the model): the person types a one-time code, approves, and the write runs exactly once; the
session cookie then covers the next approval — also when its link is followed from another site (the chat), which
withholds SameSite=Strict cookies until the page continues same-site. Screenshots of the sign-in form (desktop
English, phone French) go to docs/ with CLEAVR_MCP_SCREENSHOTS=1 (`make approval-screenshots`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx2
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.auth import hash_token
from cleavr_mcp.server.http import build_http_app
from tests.browser import browser_page, chromium_browser  # noqa: F401 - fixtures

from .conftest import HttpMCP, audit_rows, bound_socket, running_app, submission

DOCS = Path(__file__).resolve().parents[2] / "docs"
PERSON, ADMIN = "browser-person-token-41c9", "browser-admin-credential-77aa"


class Desk:
    def __init__(self, base: str, settings, demo: str) -> None:
        self.base, self.settings, self.demo = base, settings, demo

    def call(self, body: dict) -> dict:
        async def go() -> dict:
            async with HttpMCP(f"{self.base}/mcp", {"Authorization": f"Bearer {PERSON}"}) as client:
                return (await client.call_tool("submit_receivable", body)).structured_content

        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
            return pool.submit(anyio.run, go).result()

    def pending(self, **kw) -> tuple[str, dict]:
        body = {"receivable": submission(self.demo, **kw)}
        out = self.call(body)
        assert out["status"] == "approval_pending", out
        return out["approval_url"], body

    def code(self) -> str:
        response = httpx2.post(f"{self.base}/approvals/sign-in-codes", headers={"Authorization": f"Bearer {ADMIN}"},
                               json={"principal": f"token:{hash_token(PERSON)[:12]}"})
        assert response.status_code == 200, response.text
        return response.json()["code"]

    def writes(self) -> int:
        return sum(1 for r in audit_rows(self.settings) if r.tool == "submit_receivable" and r.outcome == "done"
                   and not r.replayed)


@pytest.fixture(scope="module")
def desk(sandbox, tmp_path_factory) -> Iterator[Desk]:
    sock, port = bound_socket()
    settings = sandbox.api_settings(tmp_path_factory.mktemp("signin-browser"), http_port=port, auth_tokens=[PERSON],
                                    approval_wait_seconds=0, approval_admin_token_hashes=[hash_token(ADMIN)])
    with running_app(build_http_app(build_server(settings), settings), sock) as base:
        yield Desk(base, settings, sandbox.demo_user)


def test_a_person_signs_in_with_a_code_approves_and_the_next_link_needs_no_code(desk, browser_page):
    page = browser_page
    shots = DOCS if os.environ.get("CLEAVR_MCP_SCREENSHOTS") else None
    url, body = desk.pending(number="SIGNIN-001", amount="4200.00")
    page.goto(url)
    assert page.get_by_role("group", name="Sign in to decide").is_visible()
    code = desk.code()
    if shots:
        page.get_by_label("One-time sign-in code").fill(code)
        page.screenshot(path=str(shots / "approval-signin-desktop.png"), full_page=True)
        page.get_by_label("One-time sign-in code").fill("")
    approve = page.get_by_role("button", name="Approve", exact=True)
    approve.click()  # without a code (the form is novalidate: the server decides): refused, nothing written
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text() == "This sign-in code is not valid. Check it, or ask for a new one."
    assert desk.call(body)["status"] == "approval_pending"

    page.get_by_label("One-time sign-in code").fill("WRON-GCOD-E000")
    approve.click()
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text() == "This sign-in code is not valid. Check it, or ask for a new one."
    assert desk.writes() == 0

    page.get_by_label("One-time sign-in code").fill(code.lower())
    page.get_by_role("button", name="Approve", exact=True).click()
    assert "Approved" in page.get_by_role("status").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "cleavr-approval")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert desk.call(body)["status"] == "done"
    assert desk.writes() == 1

    # The next approval's link, followed from another site (localhost is another site than 127.0.0.1): the
    # page continues same-site and the cookie is sent - no new code.
    url2, body2 = desk.pending(number="SIGNIN-002")
    page.goto(desk.base.replace("127.0.0.1", "localhost") + "/healthz")
    with page.expect_navigation(url=lambda u: u.startswith(url2 + "?same=1")):
        page.evaluate("target => { location.href = target; }", url2)
    assert page.get_by_text("You are signed in").is_visible()
    assert page.get_by_label("One-time sign-in code").count() == 0
    page.get_by_role("button", name="Approve", exact=True).click()
    assert "Approved" in page.get_by_role("status").inner_text()
    assert desk.call(body2)["status"] == "done" and desk.writes() == 2


def test_the_sign_in_form_on_a_phone_in_french(desk, chromium_browser, tmp_path):
    shots = DOCS if os.environ.get("CLEAVR_MCP_SCREENSHOTS") else tmp_path
    url, body = desk.pending(number="SIGNIN-003", amount="1890.00")
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR",
                                           device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_role("group", name="Connectez-vous pour décider").is_visible()
        field = page.get_by_label("Code de connexion à usage unique")
        assert field.get_attribute("autocomplete") == "one-time-code"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing overflows sideways
        page.screenshot(path=str(shots / "approval-signin-phone.png"), full_page=True)
        field.fill(desk.code())
        page.get_by_role("button", name="Refuser").click()
        assert "Refusé" in page.get_by_role("status").inner_text()
    finally:
        context.close()
    assert desk.call(body)["status"] == "declined"
