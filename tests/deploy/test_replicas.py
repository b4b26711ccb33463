"""Several replicas behind a load balancer: with the same keys they accept each other's confirmation tokens and
request_state; with different keys the other replica's token is refused as forged and nothing is sent."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import httpx2
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.http import build_http_app
from cleavr_mcp.toolkit.errors import error_of

from .conftest import HttpMCP, Human, audit_rows, bound_socket, running_app, submission

pytestmark = pytest.mark.anyio

TOKEN = "replica-client-token"
KEY_A = "a" * 16 + "-shared-confirmation-key-0001"
KEY_B = "b" * 16 + "-another-confirmation-key-002"


@contextmanager
def replicas(sandbox, tmp_path, *keys: str, **values):
    """One cleavr-mcp HTTP server per key, all in front of the same sandbox; yields [(url, settings), …]."""
    with ExitStack() as stack:
        out = []
        for key in keys:
            sock, port = bound_socket()
            settings = sandbox.api_settings(tmp_path, http_port=port, confirmation_key=key, auth_tokens=[TOKEN],
                                            **{"confirm_channel": "model-token", **values})
            base = stack.enter_context(running_app(build_http_app(build_server(settings), settings), sock))
            out.append((f"{base}/mcp", settings))
        yield out


def sc(result) -> dict:
    return result.structured_content


async def receivable_ids(sandbox, number: str) -> list[str]:
    tokens = sandbox.tokens()
    async with httpx2.AsyncClient(base_url=sandbox.base_url,
                                  headers={"Authorization": f"Bearer {tokens['access_token']}",
                                           "Cleavr-Version": "2026-01-02"}) as http:
        listed = (await http.get("/v1/receivables", params={"limit": 100})).json()
    return [r["id"] for r in listed["data"] if number in r["invoice"]["numbers"]]


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_same_keys_accept_each_others_confirmation_tokens(sandbox, tmp_path):
    body = submission(sandbox.demo_user)
    with replicas(sandbox, tmp_path, KEY_A, KEY_A) as [(url_a, settings_a), (url_b, settings_b)]:
        async with HttpMCP(url_a, AUTH) as a:  # no elicitation callback: the token flow
            first = await a.call_tool("submit_receivable", {"receivable": body})
        assert sc(first)["status"] == "confirmation_required", first.content
        token = sc(first)["confirmation"]["confirmation_token"]
        assert await receivable_ids(sandbox, body["invoice"]["numbers"][0]) == []

        async with HttpMCP(url_b, AUTH) as b:
            second = await b.call_tool("submit_receivable", {"receivable": body, "confirmation_token": token})
        assert not second.is_error, second.content
        assert sc(second)["status"] == "done" and sc(second)["environment"] == "sandbox"
        async with HttpMCP(url_b, AUTH) as b:
            replayed_on_b = await b.call_tool("submit_receivable", {"receivable": body, "confirmation_token": token})
        # Spent tokens are recorded per data folder: replica A has not seen this one spent. Even so a replay on A
        # cannot submit twice - the write is idempotent on its content, so Cleavr returns the same receivable.
        async with HttpMCP(url_a, AUTH) as a:
            replayed_on_a = await a.call_tool("submit_receivable", {"receivable": body, "confirmation_token": token})
    assert error_of(replayed_on_b)["code"] == "CONFIRMATION_INVALID"
    assert sc(replayed_on_a)["idempotent_replay"] is True
    created = await receivable_ids(sandbox, body["invoice"]["numbers"][0])
    assert created == [sc(second)["receivable"]["id"]] == [sc(replayed_on_a)["receivable"]["id"]]
    assert [(r.outcome, r.confirmed_by, r.replayed) for r in audit_rows(settings_a)] == [
        ("confirmation_required", "model-token", False), ("done", "model-token", True)]
    assert [(r.outcome, r.confirmed_by, r.result_id, r.error_code) for r in audit_rows(settings_b)] == [
        ("done", "model-token", created[0], None), ("refused", "model-token", None, "TOKEN_REPLAYED")]


async def test_different_keys_refuse_the_token_as_forged(sandbox, tmp_path):
    body = submission(sandbox.demo_user)
    with replicas(sandbox, tmp_path, KEY_A, KEY_B) as [(url_a, _), (url_b, settings_b)]:
        async with HttpMCP(url_a, AUTH) as a:
            token = sc(await a.call_tool("submit_receivable", {"receivable": body}))["confirmation"]["confirmation_token"]
        async with HttpMCP(url_b, AUTH) as b:
            refused = await b.call_tool("submit_receivable", {"receivable": body, "confirmation_token": token})
    assert refused.is_error
    error = error_of(refused)
    assert error["code"] == "CONFIRMATION_INVALID" and "forged" in error["message"]
    assert await receivable_ids(sandbox, body["invoice"]["numbers"][0]) == []
    [row] = audit_rows(settings_b)
    assert (row.outcome, row.error_code) == ("refused", "TOKEN_FORGED")


class RoundRobin(httpx2.AsyncBaseTransport):
    """A client-side load balancer: each request goes to the next replica."""

    def __init__(self, bases: list[str]) -> None:
        self.targets = [httpx2.URL(b) for b in bases]
        self.inner = httpx2.AsyncHTTPTransport()
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        index = len(self.sent) % len(self.targets)
        self.sent.append(index)
        target = self.targets[index]
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


RS_KEY_1 = "request-state-key-one-0123456789abcdef"
RS_KEY_2 = "request-state-key-two-0123456789abcdef"


@pytest.mark.parametrize(("keys", "shared"), [
    (((KEY_A, ()), (KEY_A, ())), True),  # request_state key derived from the shared confirmation key
    (((KEY_A, (RS_KEY_1,)), (KEY_B, (RS_KEY_1, RS_KEY_2))), True),  # explicit keys; B mid-rotation (1 seals, 2 opens)
    (((KEY_A, ()), (KEY_B, ())), False),
    (((KEY_A, (RS_KEY_1,)), (KEY_A, (RS_KEY_2,))), False),  # explicit keys win over the confirmation key
], ids=["derived", "explicit-rotation", "different", "explicit-different"])
async def test_elicitation_round_trip_across_replicas(sandbox, tmp_path, keys, shared):
    """2026-07-28 elicitation is a multi-round-trip: the retry carrying the answer and the sealed request_state
    may land on another replica. It works when the replicas share the keys, and fails closed when they don't."""
    body = submission(sandbox.demo_user)
    with ExitStack() as stack:
        servers = [stack.enter_context(replicas(sandbox, tmp_path, key, request_state_keys=list(rs)))[0]
                   for key, rs in keys]
        balancer = RoundRobin([url for url, _ in servers])
        human = Human()
        async with HttpMCP(servers[0][0], AUTH, transport=balancer, elicitation_callback=human) as client:
            before = len(balancer.sent)
            if shared:
                result = await client.call_tool("submit_receivable", {"receivable": body})
            else:
                from mcp import MCPError

                with pytest.raises(MCPError) as refused:
                    await client.call_tool("submit_receivable", {"receivable": body})
                assert refused.value.error.message == "Invalid or expired requestState"
                result = None
        during = balancer.sent[before:]
    assert len(set(during)) == 2, "the call and its retry must have hit different replicas"
    assert len(human.asked) == 1
    created = await receivable_ids(sandbox, body["invoice"]["numbers"][0])
    if shared:
        assert not result.is_error, result.content
        assert sc(result)["status"] == "done" and created == [sc(result)["receivable"]["id"]]
        rows = [r for _, s in servers for r in audit_rows(s)]
        assert [(r.outcome, r.confirmed_by) for r in rows] == [("done", "elicitation")]
    else:
        assert created == []
