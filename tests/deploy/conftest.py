"""Deployment tests: the real server over real HTTP (uvicorn on an ephemeral port in a thread), the CLI commands,
and a real sandbox over HTTP as the Cleavr API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from cleavr_mcp.config import Settings
from cleavr_mcp.testing import Human, bound_socket, running_app  # noqa: F401 - shared helpers, re-exported
from cleavr_mcp.testing import submission as _submission


def submission(user_id: str, *, number: str | None = None, amount: str = "1200.00", **kw: Any) -> dict[str, Any]:
    """A valid receivable, 75 days old, a fresh invoice number each call unless given."""
    return _submission(user_id, number=number, amount=amount, age_days=75, **kw)

MCP_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "deploy-tests", "version": "0"}}}


def make_settings(tmp_path: Path, **values: Any) -> Settings:
    values.setdefault("data_dir", tmp_path / "data")
    # A test host that is never contacted unless a tool is called (the client opens lazily).
    values.setdefault("base_url", "http://127.0.0.1:9")
    return Settings(_env_file=None, **values)


@contextmanager
def mcp_http_server(tmp_path: Path, **values: Any) -> Iterator[tuple[str, Settings]]:
    """The cleavr-mcp HTTP app exactly as `serve --transport http` builds it; yields (mcp URL, settings)."""
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.http import build_http_app

    sock, port = bound_socket()
    settings = make_settings(tmp_path, http_port=port, **values)
    app = build_http_app(build_server(settings), settings)
    with running_app(app, sock) as base:
        yield f"{base}/mcp", settings


class HttpMCP:
    """`async with HttpMCP(url, headers) as client:` — the SDK Client over streamable HTTP with extra headers."""

    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 transport: httpx2.AsyncBaseTransport | None = None, **client_kwargs: Any) -> None:
        self.url = url
        self.headers = headers or {}
        self.transport = transport
        self.client_kwargs = client_kwargs

    async def __aenter__(self) -> Client:
        kwargs: dict[str, Any] = {"headers": self.headers, "timeout": 30.0}
        if self.transport is not None:
            kwargs["transport"] = self.transport
        self._http = httpx2.AsyncClient(**kwargs)
        await self._http.__aenter__()
        self._client = Client(streamable_http_client(self.url, http_client=self._http), **self.client_kwargs)
        return await self._client.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._client.__aexit__(*exc)
        finally:
            await self._http.__aexit__(*exc)


# --- a real sandbox as the Cleavr API ---------------------------------------------------------------------
@dataclass
class Sandbox:
    base_url: str
    db_path: Path
    client_id: str
    client_secret: str
    demo_user: str

    def tokens(self) -> dict[str, Any]:
        from cleavr_mcp.sandbox.testing import sandbox_access_token

        async def fetch() -> dict[str, Any]:
            async with httpx2.AsyncClient() as http:
                return await sandbox_access_token(http, self.base_url, self.client_id, self.client_secret)

        # In a worker thread: callers may already be inside an event loop (async tests).
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(anyio.run, fetch).result()

    def api_settings(self, tmp_path: Path, **values: Any) -> Settings:
        """Settings for a server talking to this sandbox over HTTP, logged in with its own token pair."""
        tokens = self.tokens()
        values.setdefault("data_dir", tmp_path / f"data-{uuid.uuid4().hex[:6]}")
        return Settings(_env_file=None, base_url=self.base_url, client_id=self.client_id,
                        client_secret=self.client_secret, access_token=tokens["access_token"],
                        refresh_token=tokens["refresh_token"], **values)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    from cleavr_mcp.sandbox import SandboxConfig
    from cleavr_mcp.sandbox.testing import demo_user_id, running_sandbox, sandbox_credentials

    config = SandboxConfig(db_path=tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3")
    with running_sandbox(config) as base_url:
        client_id, client_secret = sandbox_credentials(config.db_path)
        yield Sandbox(base_url, config.db_path, client_id, client_secret, demo_user_id(config.db_path))


def audit_rows(settings: Settings) -> list[Any]:
    from cleavr_mcp.toolkit.store import audit_rows_in

    url = settings.database_url.get_secret_value() if settings.database_url else None
    return audit_rows_in(url or settings.data_dir / "server.sqlite3")

