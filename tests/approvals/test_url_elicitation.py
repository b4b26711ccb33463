"""URL-mode elicitation (2025-11-25 `mode: "url"` over the back-channel, and the 2026-07-28 input_required form):
a client that advertises URL mode but not form mode is handed the approval page's URL in the elicitation — never
the model. The person decides on the page; the call then writes exactly once (accept + approve) or not at all.

The SDK's Python client declares both modes whenever it has an elicitation callback, so the test narrows its
declared capabilities to URL mode only (what such a client sends)."""

from __future__ import annotations

import re

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientSession
from mcp.types import ElicitationCapability, ElicitRequestURLParams, ElicitResult, UrlElicitationCapability

from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox.testing import demo_user_id
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import submission
from cleavr_mcp.toolkit.store import audit_rows_in

pytestmark = pytest.mark.anyio


@pytest.fixture
def url_only(monkeypatch):
    original = ClientSession._build_capabilities

    def build(self, version):
        caps = original(self, version)
        if caps.elicitation is not None:
            caps = caps.model_copy(update={"elicitation": ElicitationCapability(url=UrlElicitationCapability())})
        return caps

    monkeypatch.setattr(ClientSession, "_build_capabilities", build)


class PersonAtTheUrl:
    """Opens the URL it is given (as a client shows it to the person) and clicks `decision` there."""

    def __init__(self, decision: str = "approve", action: str = "accept") -> None:
        self.decision, self.action, self.urls = decision, action, []

    async def __call__(self, context, params):
        assert isinstance(params, ElicitRequestURLParams), params
        self.urls.append(params.url)
        if self.action == "accept":
            async with httpx2.AsyncClient() as http:
                page = await http.get(params.url)
                assert "Submit this unpaid invoice" in page.text
                hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
                await http.post(params.url, data={**hidden, "decision": self.decision},
                                headers={"Origin": params.url.split("/approvals/")[0]})
        return ElicitResult(action=self.action)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("decision", ["approve", "decline"])
async def test_url_mode_writes_exactly_when_approved(tmp_path, url_only, mode, decision):
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", approval_wait_seconds=3)
    person = PersonAtTheUrl(decision)
    async with Client(build_server(settings), mode=mode, elicitation_callback=person) as c:
        args = {"receivable": submission(demo_user_id(settings.sandbox_db_path))}
        result = await c.call_tool("submit_receivable", args)
    assert len(person.urls) == 1 and "/approvals/" in person.urls[0]
    assert "/approvals/" not in result.content[0].text
    done = [r for r in audit_rows_in(tmp_path / "data" / "server.sqlite3")
            if r.tool == "submit_receivable" and r.outcome == "done"]
    if decision == "approve":
        assert result.structured_content["status"] == "done", result.content[0].text[:400]
        assert [r.confirmed_by for r in done] == ["url-elicitation"]
    else:
        assert result.structured_content["status"] == "declined" and done == []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_url_mode_dismissed_in_the_client_writes_nothing(tmp_path, url_only, mode):
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", approval_wait_seconds=0)
    person = PersonAtTheUrl(action="decline")
    async with Client(build_server(settings), mode=mode, elicitation_callback=person) as c:
        result = await c.call_tool("submit_receivable", {"receivable": submission(demo_user_id(settings.sandbox_db_path))})
    assert result.structured_content["status"] == "declined", result.content[0].text[:400]
