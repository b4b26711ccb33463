"""`cleavr-mcp auth login` against the sandbox (whose /oauth/authorize auto-approves): the test plays the browser."""

from __future__ import annotations

import json
import stat
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx2
import pytest

from cleavr_mcp.cleavr.auth import TokenStore
from cleavr_mcp.cli import main
from cleavr_mcp.commands.login import LoginError, login
from cleavr_mcp.config import Settings

pytestmark = pytest.mark.anyio


def browser(tamper=None):
    """A 'browser' that opens the authorize URL, follows the redirect to our loopback callback, and records it."""
    seen: dict = {}

    def open_url(url: str) -> None:
        seen["authorize"] = url
        answer = httpx2.get(url, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        if tamper:
            location = tamper(location)
        seen["callback"] = location
        seen["page"] = httpx2.get(location).text

    return open_url, seen


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def settings(sandbox, tmp_path) -> Settings:
    return Settings(_env_file=None, base_url=sandbox.base_url, client_id=sandbox.client_id,
                    client_secret=sandbox.client_secret, data_dir=tmp_path / "data")


async def test_login_saves_tokens_0600(settings, sandbox):
    open_url, seen = browser()
    result = await login(settings, open_url=open_url, timeout=20)
    query = parse_qs(urlsplit(seen["authorize"]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32
    redirect = urlsplit(query["redirect_uri"][0])
    assert redirect.hostname == "127.0.0.1" and redirect.port not in (None, 8765) and redirect.path == "/oauth/callback"
    assert "logged in" in seen["page"]

    assert result.token_path == settings.token_path
    mode = stat.S_IMODE(settings.token_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(settings.token_path.parent.stat().st_mode) == 0o700
    stored = TokenStore(settings.token_path).load()
    assert stored.access_token and stored.refresh_token and stored.expires_at > time.time()
    # The saved tokens work: the server's client authenticates with them (no token in the settings).
    from cleavr_mcp.toolkit.state import open_state

    async with open_state(settings) as state:
        assert isinstance(await state.client.list_webhooks(), list)


async def test_state_mismatch_is_refused_and_nothing_saved(settings):
    open_url, _ = browser(tamper=lambda loc: with_query(loc, state="forged-state"))
    with pytest.raises(LoginError, match="state does not match"):
        await login(settings, open_url=open_url, timeout=20)
    assert not settings.token_path.exists()


def refused(location: str) -> str:
    """What the authorization server sends back when the user says no: an error and the state, no code."""
    parts = urlsplit(location)
    state = parse_qs(parts.query)["state"][0]
    return urlunsplit(parts._replace(query=urlencode({"error": "access_denied", "state": state})))


async def test_refused_authorization(settings):
    open_url, _ = browser(tamper=refused)
    with pytest.raises(LoginError, match="access_denied"):
        await login(settings, open_url=open_url, timeout=20)
    assert not settings.token_path.exists()


async def test_wrong_client_secret_fails_the_exchange(settings):
    settings.client_secret = "sk_test_wrong"  # type: ignore[assignment]
    open_url, _ = browser()
    with pytest.raises(LoginError, match="code exchange failed"):
        await login(settings, open_url=open_url, timeout=20)
    assert not settings.token_path.exists()


async def test_no_answer_times_out(settings):
    with pytest.raises(LoginError, match="No answer from the browser"):
        await login(settings, open_url=lambda url: None, timeout=0.3)


async def test_login_needs_an_api_and_credentials(tmp_path):
    with pytest.raises(LoginError, match="CLEAVR_MCP_BASE_URL"):
        await login(Settings(_env_file=None, data_dir=tmp_path), open_url=print)
    with pytest.raises(LoginError, match="CLEAVR_MCP_CLIENT_ID"):
        await login(Settings(_env_file=None, data_dir=tmp_path, base_url="https://api-test.cleavr.fr"),
                    open_url=print)


def test_cli_login_no_browser_then_status_and_logout(sandbox, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for key, value in {"BASE_URL": sandbox.base_url, "CLIENT_ID": sandbox.client_id,
                       "CLIENT_SECRET": sandbox.client_secret, "DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(f"CLEAVR_MCP_{key}", value)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault(
        "rc", main(["auth", "login", "--no-browser", "--timeout", "20"])))
    thread.start()
    deadline = time.monotonic() + 20
    printed = ""
    while "/oauth/authorize?" not in printed and time.monotonic() < deadline:
        time.sleep(0.05)
        printed += capsys.readouterr().out
    url = next(line for line in printed.splitlines() if "/oauth/authorize?" in line).strip()
    location = httpx2.get(url, follow_redirects=False).headers["location"]
    httpx2.get(location)
    thread.join(20)
    assert outcome["rc"] == 0
    token_file = tmp_path / "data" / "tokens.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    saved = json.loads(token_file.read_text())
    assert saved["access_token"] not in capsys.readouterr().out  # tokens are never printed

    assert main(["auth", "status"]) == 0
    assert "refresh token present" in capsys.readouterr().out
    assert main(["auth", "logout"]) == 0
    assert not token_file.exists()
    assert main(["auth", "status"]) == 1


def test_new_token_prints_a_matching_hash(capsys):
    from cleavr_mcp.server.auth import hash_token

    assert main(["auth", "new-token"]) == 0
    out = capsys.readouterr().out
    token = out.split("shown once):")[1].split()[0]
    assert f"CLEAVR_MCP_AUTH_TOKEN_HASHES={hash_token(token)}" in out and len(token) >= 40
