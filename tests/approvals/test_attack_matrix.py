"""The attack matrix, per risky tool: a write happens exactly when a person clicked Approve on the page that showed
that payload.

The model (an MCP client without elicitation, Claude Desktop's case) tries everything it can: replaying what it
received, fetching the link, posting without or with a wrong CSRF token, from another origin, after expiry, with a
spent id, with another pending write's id, approving payload A and sending B, and two approvals at once. The
"person" is a POST carrying the page's own form, exactly what the browser sends when Approve is clicked (the
real-browser tests in test_page_browser.py show that click).

Writes are observed from outside: the sandbox's counts and the server's audit log (done rows, not replays).
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

import httpx2
import pytest
from mcp import Client

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.approvals import browser
from tests.reliability.test_confirmation_matrix import RISKY, World, _args, _current_target, _observe, world  # noqa: F401

from .conftest import Opened, form_of

CASES = ["approve", "replay_everything", "get_link", "post_without_csrf", "post_wrong_csrf", "cross_origin",
         "expired", "replayed_id", "other_pending_id", "approved_a_sends_b", "two_concurrent"]
_n = itertools.count()


@pytest.fixture(scope="module")
def recorder():
    opened = Opened()
    original = browser.open_url
    browser.open_url = opened
    yield opened
    browser.open_url = original


@pytest.fixture(scope="module")
def pages(world: World, portal, recorder) -> dict[str, Client]:  # noqa: F811
    """Clients that cannot elicit, on servers with the default channel (the page): both eras, and one whose
    approvals expire the moment they are made."""
    base = world.settings.model_copy(update={"approval_wait_seconds": 0})
    managers = {"auto": Client(build_server(base), mode="auto"),
                "legacy": Client(build_server(base), mode="legacy"),
                "expired": Client(build_server(base.model_copy(update={"confirmation_ttl_seconds": -60})))}
    entered = {k: portal.wrap_async_context_manager(cm) for k, cm in managers.items()}
    opened = {}
    try:
        for k, cm in entered.items():
            opened[k] = cm.__enter__()
        yield opened
    finally:
        for k in reversed(list(opened)):
            entered[k].__exit__(None, None, None)


def _page(url: str) -> tuple[str, dict[str, str]]:
    page = httpx2.get(url)
    assert page.status_code in (200, 410), page.status_code
    return page.text, form_of(page.text)


def _post(url: str, data: dict[str, str], origin: str | None = None) -> httpx2.Response:
    own = url.split("/approvals/")[0]
    return httpx2.post(url, data=data, headers={"Origin": origin or own}, follow_redirects=True)


def _approve(url: str) -> httpx2.Response:
    """What the browser sends when the person clicks Approve (with a phone where the page asks for one)."""
    html, hidden = _page(url)
    data = {**hidden, "decision": "approve"}
    if 'name="phone"' in html:
        data["phone"] = "+33612345678"
    if 'name="email"' in html:
        data["email"] = "debtor@example.com"
    if 'name="amount_due"' in html:
        data["amount_due"] = re.search(r'name="amount_due"[^>]*value="([^"]*)"', html).group(1) or "100.00"
    return _post(url, data)


def _pending(result) -> None:
    out = result.structured_content
    assert not result.is_error and out["status"] == "approval_pending", result.content[0].text[:500]
    text = result.content[0].text
    assert "/approvals/" not in text and "cmc1." not in text  # nothing the model could replay or click


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("tool", RISKY)
def test_attack(world, pages, recorder, tool, case, mode):  # noqa: F811
    write = case in ("approve", "replayed_id", "two_concurrent")
    args, changed_args = _args(world, tool, write=write)
    client = pages["expired" if case == "expired" else mode]
    call = lambda a=args: world.call(client, tool, a)  # noqa: E731
    first, changed, audited = _observe(world, tool, call)
    _pending(first)
    assert not changed and audited == 0
    url = recorder.last()

    if case == "approve":
        assert _approve(url).status_code == 200  # 303 → the decided page
        result, changed, audited = _observe(world, tool, call)
        assert result.structured_content["status"] == "done", result.content[0].text[:500]
        assert changed and audited == 1
        return
    if case == "replay_everything":
        # everything it received, sent back: the same arguments, the status, the structured result as a token
        replay = {**args}
        if "confirmation_token" in _tool_params(world, tool):
            replay["confirmation_token"] = str(first.structured_content)
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, replay))
        assert result.is_error or result.structured_content["status"] == "approval_pending"
    elif case == "get_link":
        html, _ = _page(url)
        assert "Approve" in html
        result, changed, audited = _observe(world, tool, call)
        _pending(result)
    elif case in ("post_without_csrf", "post_wrong_csrf", "cross_origin"):
        _, hidden = _page(url)
        data = {"decision": "approve", "phone": "+33612345678", "email": "debtor@example.com"}
        if case == "post_wrong_csrf":
            data["csrf"] = "0" * len(hidden["csrf"])
        if case == "cross_origin":
            data["csrf"] = hidden["csrf"]
        response = _post(url, data, origin="https://evil.example" if case == "cross_origin" else None)
        assert response.status_code == 403
        result, changed, audited = _observe(world, tool, call)
        _pending(result)
    elif case == "expired":
        html, hidden = _page(url)
        assert "expired" in html and "csrf" not in hidden  # no form to submit any more
        response = _post(url, {"csrf": "x", "decision": "approve"})
        assert response.status_code in (403, 410)
        result, changed, audited = _observe(world, tool, call)
        _pending(result)  # a new request: the expired one approves nothing
    elif case == "replayed_id":
        assert _approve(url).status_code == 200
        result, changed, audited = _observe(world, tool, call)
        assert changed and audited == 1
        again = _approve(url)  # the same link, posted again: already decided
        assert "Approved" in again.text
        result, changed, audited = _observe(world, tool, call)
        assert result.is_error or result.structured_content["status"] in ("approval_pending", "done")
        assert not changed and audited == 0
        return
    elif case == "other_pending_id":
        _pending(world.call(client, tool, changed_args))  # another pending write (other arguments)
        other_url = recorder.last()
        assert other_url != url
        _, other_hidden = _page(other_url)
        _, hidden = _page(url)
        assert other_hidden["csrf"] != hidden["csrf"]
        response = _post(url, {**other_hidden, "decision": "approve", "phone": "+33612345678",
                               "email": "debtor@example.com"})
        assert response.status_code == 403
        result, changed, audited = _observe(world, tool, call)
        _pending(result)
    elif case == "approved_a_sends_b":
        assert _approve(url).status_code == 200
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, changed_args))
        if not result.is_error:
            assert result.structured_content["status"] == "approval_pending", result.content[0].text[:500]
    elif case == "two_concurrent":
        outcomes: list[int] = []
        html, hidden = _page(url)  # both clicks come from the same page, loaded once, before either lands
        data = {**hidden, "decision": "approve", "phone": "+33612345678", "email": "debtor@example.com"}
        if 'name="amount_due"' in html:
            data["amount_due"] = re.search(r'name="amount_due"[^>]*value="([^"]*)"', html).group(1) or "100.00"
        threads = [threading.Thread(target=lambda: outcomes.append(_post(url, data).status_code)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes == [200, 200]  # both see the decided page; the ledger took one decision

        def two_calls() -> list[Any]:
            async def both():
                import anyio

                results: list[Any] = []

                async def one():
                    results.append(await client.call_tool(tool, args))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(one)
                    tg.start_soon(one)
                return results
            return world.portal.call(both)

        results, changed, audited = _observe(world, tool, two_calls)
        statuses = sorted(r.structured_content["status"] if not r.is_error else "error" for r in results)
        assert statuses.count("done") == 1, statuses
        assert changed and audited == 1
        return
    assert not changed and audited == 0, result.content[0].text[:500]


def _tool_params(world, tool: str) -> set[str]:
    tools = world.portal.call(world.silent.list_tools).tools
    return set(next(t for t in tools if t.name == tool).input_schema.get("properties", {}))
