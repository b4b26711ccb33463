"""The approval page over streamable HTTP, both protocol eras.

With auth (the page link goes to the person through the model): the model that fetches the link sees the page
but cannot approve — the POST needs the person's own sign-in (a one-time code bound to the principal that asked);
another principal's code is refused. The sign-in paths and attacks in detail: test_approval_signin.py (codes) and
test_approval_oidc.py (OIDC). Without auth on loopback: the server opens the person's browser itself and the
model never sees the link.
"""

from __future__ import annotations

import re

import httpx2
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.approvals import browser
from cleavr_mcp.server.approvals.signin import SignInStore
from cleavr_mcp.server.auth import hash_token
from cleavr_mcp.server.http import build_http_app

from .conftest import HttpMCP, audit_rows, bound_socket, running_app, submission

pytestmark = pytest.mark.anyio
PERSON, OTHER = "person-token-7f3a", "other-token-19c2"


def _hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


async def _post(url: str, data: dict) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(url, data=data, headers={"Origin": url.split("/approvals/")[0]})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_link_mode_needs_the_persons_own_sign_in(sandbox, tmp_path, mode):
    sock, port = bound_socket()
    settings = sandbox.api_settings(tmp_path, http_port=port, auth_tokens=[PERSON, OTHER], approval_wait_seconds=0)
    body = {"receivable": submission(sandbox.demo_user)}
    server = build_server(settings)
    with running_app(build_http_app(server, settings), sock) as base:
        codes = SignInStore(server.approvals.ledger.db)
        person_code = (await codes.issue(f"token:{hash_token(PERSON)[:12]}", ttl_seconds=600)).code
        other_code = (await codes.issue(f"token:{hash_token(OTHER)[:12]}", ttl_seconds=600)).code
        async with HttpMCP(f"{base}/mcp", {"Authorization": f"Bearer {PERSON}"}, mode=mode) as model:
            first = await model.call_tool("submit_receivable", body)
            out = first.structured_content
            assert out["status"] == "approval_pending", first.content[0].text[:400]
            url = out["approval_url"]
            assert url.startswith(f"{base}/approvals/")
            async with httpx2.AsyncClient() as http:
                page = await http.get(url)  # the model fetches the link: it sees the page…
            assert page.status_code == 200 and 'name="code"' in page.text
            form = {**_hidden(page.text), "decision": "approve"}
            assert (await _post(url, form)).status_code == 403  # …but cannot approve without the person's login
            assert (await _post(url, {**form, "code": other_code})).status_code == 403  # nor as someone else
            assert (await _post(url, {**form, "code": PERSON})).status_code == 403  # a bearer token is no sign-in
            assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"
            assert (await _post(url, {**form, "code": person_code})).status_code in (200, 303)
            done = await model.call_tool("submit_receivable", body)
    assert done.structured_content["status"] == "done", done.content[0].text[:400]
    rows = [r for r in audit_rows(settings) if r.tool == "submit_receivable" and r.outcome == "done"]
    assert [r.confirmed_by for r in rows] == ["page"]


async def test_loopback_without_auth_opens_the_browser(sandbox, tmp_path, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr(browser, "open_url", lambda url: opened.append(url) or True)
    sock, port = bound_socket()
    settings = sandbox.api_settings(tmp_path, http_port=port, approval_wait_seconds=0)
    body = {"receivable": submission(sandbox.demo_user)}
    with running_app(build_http_app(build_server(settings), settings), sock) as base:
        async with HttpMCP(f"{base}/mcp") as model:
            first = await model.call_tool("submit_receivable", body)
            assert first.structured_content["status"] == "approval_pending"
            assert first.structured_content["approval_url"] is None and base not in first.content[0].text
            assert opened and opened[-1].startswith(f"{base}/approvals/")
            async with httpx2.AsyncClient() as http:
                page = await http.get(opened[-1])
            assert 'name="code"' not in page.text
            assert (await _post(opened[-1], {**_hidden(page.text), "decision": "approve"})).status_code in (200, 303)
            done = await model.call_tool("submit_receivable", body)
    assert done.structured_content["status"] == "done"
