"""A real sandbox over HTTP (uvicorn on an ephemeral port) for the integration tests, and a client wired to it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cleavr_mcp.cleavr import (
    CleavrClient,
    RetryPolicy,
    TokenManager,
    TokenStore,
    authorize_with_code_flow,
    wire,
)
from cleavr_mcp.cleavr.contract import ALL_SCOPES, Paths
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.testing import demo_user_id, running_sandbox, sandbox_credentials

FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, total_budget=10.0)


@dataclass
class SandboxServer:
    base_url: str
    db_path: Path
    client_id: str
    client_secret: str
    demo_user: str


@dataclass
class Api:
    """A CleavrClient on the sandbox, plus what tests need to poke the sandbox's test controls."""

    client: CleavrClient
    http: httpx2.AsyncClient
    auth: TokenManager
    server: SandboxServer

    @property
    def user(self) -> str:
        return self.server.demo_user

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a /sandbox test endpoint (never faulted) with the client's current token."""
        token = await self.auth.access_token()
        response = await self.http.request(
            method, self.server.base_url + path, headers={"Authorization": f"Bearer {token}"},
            content=wire.dumps(body) if body is not None else None,
        )
        assert response.status_code < 300, response.text
        return wire.loads(response.content)

    async def set_faults(self, **settings: Any) -> None:
        await self.control("PUT", "/sandbox/faults", {"retry_after_seconds": 0, **settings})

    async def stats(self) -> dict[str, Any]:
        return await self.control("GET", "/sandbox/stats")


def start_sandbox(tmp: Path, **config: Any):
    db = tmp / "sandbox.sqlite3"
    settings = {"rate_limit_per_second": 100_000, "retry_after_seconds": 0, **config}
    return db, running_sandbox(SandboxConfig(db_path=db, **settings))


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    db, server = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    with server as base_url:
        client_id, client_secret = sandbox_credentials(db)
        yield SandboxServer(base_url, db, client_id, client_secret, demo_user_id(db))


async def connect(server: SandboxServer, tmp_path: Path, *, scopes=ALL_SCOPES, retry: RetryPolicy = FAST_RETRY,
                  http: httpx2.AsyncClient) -> Api:
    tokens = await authorize_with_code_flow(http, server.base_url, server.client_id, server.client_secret,
                                            list(scopes))
    store = TokenStore(tmp_path / f"tokens-{uuid.uuid4().hex[:6]}.json")
    store.save(tokens)
    auth = TokenManager(http, server.base_url + Paths.TOKEN, server.client_id, server.client_secret, store)
    return Api(CleavrClient(http, base_url=server.base_url, auth=auth, retry=retry), http, auth, server)


@pytest.fixture
async def api(sandbox_server: SandboxServer, tmp_path: Path) -> AsyncIterator[Api]:
    async with httpx2.AsyncClient(timeout=10) as http:
        api = await connect(sandbox_server, tmp_path, http=http)
        yield api
        await api.set_faults()  # leave the shared sandbox without faults


def unique(prefix: str = "INV") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"
