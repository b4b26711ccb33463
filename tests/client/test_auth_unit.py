"""Token file, PKCE, state and single-flight refresh (MockTransport; the sandbox versions are in test_sandbox_auth)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
import pytest

from cleavr_mcp.cleavr import (
    CleavrAuthError,
    StaticToken,
    TokenManager,
    TokenSet,
    TokenStore,
    build_authorize_url,
    check_state,
    new_pkce,
)
from cleavr_mcp.cleavr.models import TokenResponse

from .helpers import error_response, json_response

pytestmark = pytest.mark.anyio
TOKEN_URL = "https://api-test.cleavr.fr/oauth/token"


def test_pkce_is_s256_of_the_verifier():
    verifier, challenge = new_pkce()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected and new_pkce()[0] != verifier


def test_authorize_url_carries_everything():
    url = build_authorize_url("https://api.cleavr.fr/", "plat_live_1", "http://127.0.0.1:9/cb",
                              ["receivables:read", "users:read"], "st4te", "ch4l")
    parsed = urlparse(url)
    q = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert parsed.path == "/oauth/authorize"
    assert q == {"client_id": "plat_live_1", "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code",
                 "scope": "receivables:read users:read", "state": "st4te", "code_challenge": "ch4l",
                 "code_challenge_method": "S256"}


def test_check_state():
    check_state("abc", "abc")
    for bad in ("abd", "", None, "abcd"):
        with pytest.raises(CleavrAuthError) as info:
            check_state("abc", bad)
        assert info.value.code == "OAUTH_STATE_MISMATCH"


def test_token_store_writes_0600_atomically_in_a_0700_dir(tmp_path):
    store = TokenStore(tmp_path / "data" / "tokens.json")
    store.save(TokenSet(access_token="at_test_1", refresh_token="rt_test_1", expires_at=123.0))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    inode = store.path.stat().st_ino
    store.save(TokenSet(access_token="at_test_2", refresh_token="rt_test_2", expires_at=456.0))
    assert store.path.stat().st_ino != inode  # replaced, not rewritten in place
    assert os.listdir(store.path.parent) == ["tokens.json"]  # no temp file left behind
    loaded = store.load()
    assert (loaded.access_token, loaded.refresh_token, loaded.expires_at) == ("at_test_2", "rt_test_2", 456.0)
    assert "rt_test_2" not in repr(loaded) and "at_test_2" not in repr(loaded)


def test_token_store_accepts_a_token_response_and_a_bare_refresh_token(tmp_path):
    store = TokenStore(tmp_path / "t.json")
    assert not store.exists() and store.load() is None
    store.save(TokenResponse(access_token="at_test_1", refresh_token="rt_test_1", expires_in=60))
    assert store.exists() and store.load().refresh_token == "rt_test_1"
    store.save_refresh_token("rt_test_9")
    assert store.load().refresh_token == "rt_test_9" and store.load().access_token is None


def test_unreadable_token_file_is_ignored(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{half")
    assert TokenStore(path).load() is None


class CountingTokenEndpoint:
    def __init__(self, delay: float = 0.05) -> None:
        self.calls = 0
        self.delay = delay
        self.refresh_tokens_seen: list[str] = []

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        form = parse_qs(request.content.decode())
        if request.url.path == "/oauth/token":
            self.calls += 1
            self.refresh_tokens_seen.append(form["refresh_token"][0])
            await anyio.sleep(self.delay)  # the refresh is slow: every caller piles up behind it
            n = self.calls + 1
            return json_response(200, {"access_token": f"at_test_{n}", "refresh_token": f"rt_test_{n}",
                                       "expires_in": 3600, "token_type": "Bearer"})
        return json_response(200, {})


async def test_twenty_concurrent_callers_during_expiry_cause_one_refresh(tmp_path):
    endpoint = CountingTokenEndpoint()
    clock = [10_000.0]
    store = TokenStore(tmp_path / "tokens.json")
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)) as http:
        manager = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", store, access_token="at_test_1",
                               refresh_token="rt_test_1", expires_at=clock[0] + 30, clock=lambda: clock[0])
        got: list[str] = []

        async def call() -> None:
            got.append(await manager.access_token())

        async with anyio.create_task_group() as tg:  # expiry 30 s away < 60 s margin: stale for everyone
            for _ in range(20):
                tg.start_soon(call)
    assert endpoint.calls == 1 and manager.refresh_count == 1
    assert got == ["at_test_2"] * 20
    assert store.load().refresh_token == "rt_test_2"  # rotated token persisted
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


async def test_force_refresh_is_single_flight_per_failed_token():
    endpoint = CountingTokenEndpoint()
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)) as http:
        manager = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", None, access_token="at_test_1",
                               refresh_token="rt_test_1")
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(manager.force_refresh, "at_test_1")
        assert endpoint.calls == 1 and await manager.access_token() == "at_test_2"
        await manager.force_refresh("at_test_2")  # a new failure of the new token refreshes again
        assert endpoint.calls == 2 and endpoint.refresh_tokens_seen == ["rt_test_1", "rt_test_2"]


async def test_the_token_file_wins_over_the_configured_token_it_descends_from(tmp_path):
    endpoint = CountingTokenEndpoint()
    store = TokenStore(tmp_path / "tokens.json")
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)) as http:
        first = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", store, refresh_token="rt_test_1")
        assert await first.access_token() == "at_test_2"
        # restart with the same (now rotated) configured token: the file's rt_test_2 is used
        second = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", store, refresh_token="rt_test_1")
        assert await second.access_token() == "at_test_2" and endpoint.calls == 1
        # a newly configured pair wins over the file
        third = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", store, refresh_token="rt_test_new")
        assert await third.access_token() == "at_test_3"
        assert endpoint.refresh_tokens_seen == ["rt_test_1", "rt_test_new"]


async def test_refresh_failure_is_an_auth_error_without_secrets():
    def handler(request: httpx2.Request) -> httpx2.Response:
        return error_response(401, "UNAUTHORIZED", "refresh_token rt_test_old is not valid",
                              details={"oauth_error": "invalid_grant"})

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        manager = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_s3cret", None, refresh_token="rt_test_old")
        with pytest.raises(CleavrAuthError) as info:
            await manager.access_token()
    text = str(info.value) + repr(info.value) + str(info.value.to_dict())
    assert "rt_test_old" not in text and "s3cret" not in text
    assert "cleavr-mcp login" in info.value.message and info.value.details["oauth_error"] == "invalid_grant"


async def test_missing_refresh_token_is_a_clear_auth_error():
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(lambda r: json_response(200, {}))) as http:
        manager = TokenManager(http, TOKEN_URL, "plat_test_1", "sk_test_1", None)
        with pytest.raises(CleavrAuthError, match="No Cleavr refresh token"):
            await manager.access_token()
    assert "****" in repr(StaticToken("at_test_x")) and "at_test_x" not in repr(StaticToken("at_test_x"))
    assert "sk_test_1" not in repr(manager)
