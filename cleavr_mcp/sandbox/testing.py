"""Helpers for tests that need a real sandbox: serve it on an ephemeral port, get credentials and a token.

    config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite3")
    with running_sandbox(config) as base_url:
        client_id, client_secret = sandbox_credentials(config.db_path)
        async with httpx2.AsyncClient() as http:
            tokens = await sandbox_access_token(http, base_url, client_id, client_secret)
            headers = api_headers(tokens["access_token"])

In-process (no socket): `httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_app(config)),
base_url="http://sandbox")` and `sandbox_access_token(http, "http://sandbox", ...)`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2

from ..cleavr.contract import ALL_SCOPES, API_VERSION, VERSION_HEADER
from .config import SandboxConfig
from .server import uvicorn_config
from .store import META_DEMO_USER, Store

REDIRECT_URI = "http://127.0.0.1/callback"


def sandbox_credentials(db_path: Path) -> tuple[str, str]:
    """(client_id, client_secret) of the sandbox platform stored in this database (created if new)."""
    store = Store(db_path)
    try:
        return store.credentials()
    finally:
        store.close()


def demo_user_id(db_path: Path) -> str:
    """Id of the seeded demo creditor (active). Raises LookupError when the database was never seeded."""
    store = Store(db_path)
    try:
        user_id = store.meta(META_DEMO_USER)
    finally:
        store.close()
    if user_id is None:
        raise LookupError(f"{db_path} has no demo user: start the sandbox once with seed=True")
    return user_id


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def api_headers(access_token: str, version: str = API_VERSION, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}", VERSION_HEADER: version, **extra}


async def sandbox_access_token(
    http: httpx2.AsyncClient,
    base_url: str,
    client_id: str,
    client_secret: str,
    scopes: Iterable[str] = ALL_SCOPES,
    *,
    redirect_uri: str = REDIRECT_URI,
) -> dict[str, Any]:
    """The whole authorization-code dance (state + PKCE S256); returns the token response as a dict."""
    base = base_url.rstrip("/")
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    answer = await http.get(
        f"{base}/oauth/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"authorize answered {answer.status_code}: {answer.text[:300]}")
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    if query.get("state") != [state]:
        raise RuntimeError("authorize returned a different state (CSRF check failed)")
    if "code" not in query:
        raise RuntimeError(f"authorize refused: {query}")
    answer = await http.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
            "client_secret": client_secret,
        },
    )
    if answer.status_code != 200:
        raise RuntimeError(f"token exchange answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, *, app: Any = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve the sandbox with uvicorn on an ephemeral port in a background thread; yields the base URL.

    Pass `config` (an app is created and closed here) or an existing `app` (you keep ownership).
    """
    if (config is None) == (app is None):
        raise TypeError("pass exactly one of config or app")
    owned = app is None
    if owned:
        from .app import create_app

        app = create_app(config)
    from .server import bound_socket, running_app

    sock, port = bound_socket(host)
    try:
        # The drop-aware protocol closes the socket cleanly for the commit-then-drop fault.
        with running_app(app, sock, config=uvicorn_config(app, host=host, port=port, timeout_graceful_shutdown=2),
                         start_timeout=15) as base_url:
            yield base_url
    finally:
        if owned:
            app.state.sandbox.close()
