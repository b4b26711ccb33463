"""OAuth against the sandbox over real HTTP: the code flow pieces, single-flight refresh, rotation persisted."""

from __future__ import annotations

import json
import stat
import time
from collections import Counter
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
import pytest

from cleavr_mcp.cleavr import (
    CleavrAuthError,
    CleavrClient,
    TokenManager,
    TokenStore,
    build_authorize_url,
    check_state,
    exchange_code,
    new_pkce,
)
from cleavr_mcp.cleavr.auth import new_state
from cleavr_mcp.cleavr.contract import ALL_SCOPES, Paths

from .conftest import FAST_RETRY, SandboxServer, connect, unique
from .helpers import receivable_request

pytestmark = pytest.mark.anyio
REDIRECT = "http://127.0.0.1:8765/oauth/callback"


class CountingTransport(httpx2.AsyncBaseTransport):
    """The real network transport, counting requests per path."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.paths[request.url.path] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_code_flow_pieces_as_the_cli_uses_them(sandbox_server: SandboxServer):
    verifier, challenge = new_pkce()
    state = new_state()
    url = build_authorize_url(sandbox_server.base_url, sandbox_server.client_id, REDIRECT, ALL_SCOPES, state,
                              challenge)
    async with httpx2.AsyncClient() as http:
        redirect = await http.get(url, follow_redirects=False)
        assert redirect.status_code == 302
        callback = {k: v[0] for k, v in parse_qs(urlparse(redirect.headers["location"]).query).items()}
        check_state(state, callback["state"])
        with pytest.raises(CleavrAuthError):
            check_state(new_state(), callback["state"])
        token_url = sandbox_server.base_url + Paths.TOKEN
        with pytest.raises(CleavrAuthError) as info:  # PKCE is enforced: a wrong verifier is refused
            await exchange_code(http, token_url, sandbox_server.client_id, sandbox_server.client_secret,
                                callback["code"], REDIRECT, new_pkce()[0])
        assert info.value.details.get("oauth_error") == "invalid_grant"
        redirect = await http.get(url, follow_redirects=False)
        code = parse_qs(urlparse(redirect.headers["location"]).query)["code"][0]
        tokens = await exchange_code(http, token_url, sandbox_server.client_id, sandbox_server.client_secret,
                                     code, REDIRECT, verifier)
    assert tokens.access_token.startswith("at_test_") and tokens.refresh_token.startswith("rt_test_")
    assert set(tokens.scope.split()) == set(ALL_SCOPES)


async def test_wrong_client_secret_is_a_clear_auth_error(sandbox_server: SandboxServer):
    from cleavr_mcp.cleavr import authorize_with_code_flow

    async with httpx2.AsyncClient() as http:
        with pytest.raises(CleavrAuthError) as info:
            await authorize_with_code_flow(http, sandbox_server.base_url, sandbox_server.client_id,
                                           "sk_test_wrong_secret", ALL_SCOPES)
    assert "sk_test_wrong_secret" not in str(info.value) and info.value.status == 401


async def test_twenty_calls_during_expiry_make_one_refresh_and_persist_the_rotation(sandbox_server, tmp_path):
    transport = CountingTransport()
    async with httpx2.AsyncClient(transport=transport, timeout=10) as http:
        api = await connect(sandbox_server, tmp_path, http=http)
        rec = (await api.client.submit_receivable(receivable_request(user_id=api.user,
                                                                     invoice__numbers=[unique()]))).value
        store: TokenStore = api.auth.store
        old_refresh = store.load().refresh_token
        # Restart the manager on the token file with a clock one hour ahead: the access token is stale.
        later = TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                             sandbox_server.client_secret, store, clock=lambda: time.time() + 3600)
        client = CleavrClient(http, base_url=sandbox_server.base_url, auth=later, retry=FAST_RETRY)
        transport.paths.clear()
        results = []

        async def call() -> None:
            results.append(await client.get_receivable(rec.id))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)

    assert transport.paths[Paths.TOKEN] == 1 and later.refresh_count == 1
    assert len(results) == 20 and {r.id for r in results} == {rec.id}
    saved = json.loads(store.path.read_text())
    assert saved["refresh_token"] != old_refresh and saved["refresh_token"].startswith("rt_test_")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir() if p.name.startswith(".tokens-")] == []


async def test_twenty_calls_refused_with_401_make_one_refresh(sandbox_server, tmp_path):
    transport = CountingTransport()
    async with httpx2.AsyncClient(transport=transport, timeout=10) as http:
        api = await connect(sandbox_server, tmp_path, http=http)
        await api.control("POST", "/sandbox/tokens/expire", {})  # the server now refuses the current token
        transport.paths.clear()

        async def call() -> None:
            await api.client.get_commission_rates()

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(call)
    assert transport.paths[Paths.TOKEN] == 1 and api.auth.refresh_count == 1
    assert api.client.stats.auth_refreshes == 20  # every call saw its 401 and asked; one refresh happened
    assert transport.paths[Paths.COMMISSION_RATES] == 40


async def test_a_rotated_refresh_token_is_refused_so_the_file_must_hold_the_new_one(sandbox_server, tmp_path):
    async with httpx2.AsyncClient(timeout=10) as http:
        api = await connect(sandbox_server, tmp_path, http=http)
        old_refresh = api.auth.store.load().refresh_token
        await api.auth.force_refresh(await api.auth.access_token())
        # A process restarted from the file keeps working without a new login ...
        restarted = TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                                 sandbox_server.client_secret, TokenStore(api.auth.store.path))
        await restarted.force_refresh(await restarted.access_token())
        client = CleavrClient(http, base_url=sandbox_server.base_url, auth=restarted)
        assert (await client.get_commission_rates()).default_rates
        # ... while the rotated-away token is dead.
        stale = TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                             sandbox_server.client_secret, None, refresh_token=old_refresh)
        with pytest.raises(CleavrAuthError) as info:
            await stale.access_token()
    assert info.value.details["oauth_error"] == "invalid_grant" and old_refresh not in str(info.value.to_dict())
