"""Live safety: against api.cleavr.fr, write tools refuse unless the operator opted in; the environment is in
every write result. The live host is routed to a local sandbox by the HTTP transport, so nothing leaves the machine."""

from __future__ import annotations

import uuid

import httpx2
import pytest
from mcp import Client

from cleavr_mcp.config import Environment, Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.toolkit import state as state_module
from cleavr_mcp.toolkit.errors import error_of

from .conftest import Human, audit_rows, submission

pytestmark = pytest.mark.anyio

LIVE = "https://api.cleavr.fr"


class _LiveToSandbox(httpx2.AsyncBaseTransport):
    def __init__(self, sandbox_url: str) -> None:
        self.target = httpx2.URL(sandbox_url)
        self.inner = httpx2.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.hosts.append(request.url.host)
        assert request.url.host == "api.cleavr.fr", request.url
        request.url = request.url.copy_with(scheme="http", host=self.target.host, port=self.target.port)
        request.headers["host"] = f"{self.target.host}:{self.target.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Httpx2Routed:
    """Stands in for the httpx2 module inside toolkit.state: clients it opens reach the sandbox."""

    def __init__(self, transport: _LiveToSandbox) -> None:
        self._transport = transport

    def AsyncClient(self, **kwargs):  # noqa: N802 - mirrors httpx2.AsyncClient
        return httpx2.AsyncClient(transport=self._transport, **kwargs)

    def __getattr__(self, name: str):
        return getattr(httpx2, name)


@pytest.fixture
def routed(sandbox, monkeypatch):
    transport = _LiveToSandbox(sandbox.base_url)
    monkeypatch.setattr(state_module, "httpx2", _Httpx2Routed(transport))
    return transport


def live_settings(sandbox, tmp_path, **values) -> Settings:
    settings = sandbox.api_settings(tmp_path, **values)
    settings.base_url = LIVE
    assert settings.environment is Environment.LIVE
    return settings


async def sandbox_counts(sandbox) -> dict:
    tokens = sandbox.tokens()
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        stats = await http.get("/sandbox/stats", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert stats.status_code == 200, stats.text
    return stats.json()


async def test_live_writes_refused_without_opt_in(sandbox, tmp_path, routed):
    settings = live_settings(sandbox, tmp_path)
    server = build_server(settings)
    assert "LIVE" in server.instructions
    before = await sandbox_counts(sandbox)
    email = f"live-{uuid.uuid4().hex[:6]}@creditor.example"
    human = Human()
    async with Client(server, elicitation_callback=human) as client:
        quote = await client.call_tool("quote_commission", {"amount": "1000.00", "days_overdue": 40})
        user = await client.call_tool("create_user", {"user": {"email": email}})
        submit = await client.call_tool("submit_receivable", {"receivable": submission(sandbox.demo_user)})
    async with Client(server) as no_elicitation:
        token_flow = await no_elicitation.call_tool("submit_receivable", {"receivable": submission(sandbox.demo_user)})

    assert not quote.is_error  # reads work against live
    assert set(routed.hosts) == {"api.cleavr.fr"}
    for result in (user, submit, token_flow):
        assert result.is_error
        error = error_of(result)
        assert error["code"] == "LIVE_WRITES_DISABLED"
        assert "live Cleavr API" in error["message"]
        assert "CLEAVR_MCP_ALLOW_LIVE_WRITES=true" in error["next_step"]  # how to opt in
        assert "CLEAVR_MCP_ALLOW_LIVE_WRITES=true" in result.content[0].text
    assert "confirmation" not in str(token_flow.structured_content)  # no token is minted for a refused write
    assert human.asked == []  # the human is not asked to confirm a write that will be refused anyway
    assert all(error_of(r)["environment"] == "live" for r in (user, submit, token_flow))
    assert await sandbox_counts(sandbox) == before  # nothing was written
    rows = audit_rows(settings)
    assert [(r.tool, r.outcome, r.error_code, r.environment) for r in rows] == [
        ("create_user", "refused", "LIVE_WRITES_DISABLED", "live"),
        ("submit_receivable", "refused", "LIVE_WRITES_DISABLED", "live"),
        ("submit_receivable", "refused", "LIVE_WRITES_DISABLED", "live"),
    ]


async def test_live_writes_with_opt_in_say_live(sandbox, tmp_path, routed):
    settings = live_settings(sandbox, tmp_path, allow_live_writes=True)
    async with Client(build_server(settings), elicitation_callback=Human()) as client:
        user = await client.call_tool("create_user", {"user": {"email": f"opt-{uuid.uuid4().hex[:6]}@c.example"}})
        submit = await client.call_tool("submit_receivable", {"receivable": submission(sandbox.demo_user)})
    assert not user.is_error and not submit.is_error, (user.content, submit.content)
    assert user.structured_content["environment"] == "live" and user.structured_content["status"] == "done"
    assert submit.structured_content["environment"] == "live" and submit.structured_content["status"] == "done"
    assert [(r.outcome, r.environment) for r in audit_rows(settings)] == [("done", "live"), ("done", "live")]


async def test_local_sandbox_needs_no_opt_in(sandbox, tmp_path):
    settings = sandbox.api_settings(tmp_path)
    assert settings.environment is Environment.SANDBOX  # a loopback API is a sandbox on this machine
    async with Client(build_server(settings), elicitation_callback=Human(action="decline")) as client:
        declined = await client.call_tool("submit_receivable", {"receivable": submission(sandbox.demo_user)})
    assert declined.structured_content["status"] == "declined"
    assert declined.structured_content["environment"] == "sandbox"
