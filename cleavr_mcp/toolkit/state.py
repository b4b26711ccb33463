"""What every tool call can reach: the API client, the confirmation tokens, the audit store, the environment.

One `httpx2.AsyncClient` per process, opened in the server lifespan. With no Cleavr credentials configured the
client talks to the embedded sandbox in-process (persistent SQLite in the data dir, one onboarded demo creditor).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import httpx2
from mcp.server.mcpserver import Context

from ..config import Environment, Settings
from ..storage import Database, database_for
from .approvals import ApprovalChannels
from .confirm import ConfirmationTokens
from .store import ServerStore

if TYPE_CHECKING:  # the client (auth, retries, models) is imported when the backend opens, not at start-up
    from ..cleavr.client import CleavrClient

logger = logging.getLogger("cleavr_mcp.server")

SANDBOX_HOST = "http://sandbox.cleavr.local"


@dataclass
class AppState:
    settings: Settings
    environment: Environment
    http: httpx2.AsyncClient | None
    client: CleavrClient  # a LazyClient until the first call
    tokens: ConfirmationTokens
    store: ServerStore
    database: Database  # all server state (SQLite in the data dir, or PostgreSQL shared by replicas)
    demo_user_id: str | None = None
    sandbox_base_url: str | None = None
    approvals: ApprovalChannels | None = None  # installed by the server: how a person approves out of band
    extras: dict[str, Any] = field(default_factory=dict)  # other integrations (CleverInvo, events) hang here

    @property
    def live_writes_blocked(self) -> bool:
        return self.environment is Environment.LIVE and not self.settings.allow_live_writes


# Attaches other integrations' clients to the state as it opens (given by the server, which knows the tools).
Integrations = Callable[[AppState, AsyncExitStack], Awaitable[None]]


def state_of(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


def confirmation_key(settings: Settings) -> bytes:
    """The configured key, else one generated once and kept (0600) in the data dir so restarts keep tokens valid."""
    if settings.confirmation_key is not None:
        return settings.confirmation_key.get_secret_value().encode()
    from ..private_files import read_or_create_secret

    return read_or_create_secret(settings.ensure_data_dir() / "confirmation.key").encode()


async def _embedded_sandbox(settings: Settings, stack: AsyncExitStack) -> tuple[httpx2.AsyncClient, CleavrClient, str]:
    # Imported here: the sandbox (FastAPI, SQLite, PDF code) is only loaded when it is used.
    from ..cleavr.auth import TokenManager, authorize_with_code_flow
    from ..cleavr.client import CleavrClient
    from ..cleavr.contract import ALL_SCOPES, Paths
    from ..sandbox import SandboxConfig, create_app
    from ..sandbox.testing import demo_user_id, sandbox_credentials

    config = SandboxConfig.from_settings(settings)
    app = create_app(config)
    http = await stack.enter_async_context(
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=SANDBOX_HOST, timeout=settings.timeout_seconds)
    )
    client_id, client_secret = sandbox_credentials(config.db_path)
    # The real OAuth code flow, against the in-process sandbox (it auto-approves).
    token = await authorize_with_code_flow(http, SANDBOX_HOST, client_id, client_secret, list(ALL_SCOPES))
    auth = TokenManager(http, SANDBOX_HOST + Paths.TOKEN, client_id, client_secret)
    auth.set_tokens(token)
    client = CleavrClient(http, base_url=SANDBOX_HOST, api_version=settings.api_version, auth=auth)
    return http, client, demo_user_id(config.db_path)


async def _remote_api(settings: Settings, stack: AsyncExitStack,
                      database: Database | None = None) -> tuple[httpx2.AsyncClient, CleavrClient]:
    from ..cleavr.auth import auth_from_settings
    from ..cleavr.client import CleavrClient

    assert settings.base_url is not None
    http = await stack.enter_async_context(httpx2.AsyncClient(timeout=settings.timeout_seconds))
    client = CleavrClient(http, base_url=settings.base_url, api_version=settings.api_version,
                          auth=auth_from_settings(settings, http, database=database))
    return http, client


C = TypeVar("C")


class Lazy(Generic[C]):
    """A client opened by its first user, once, however many ask at the same time."""

    def __init__(self, opener: Callable[[], Awaitable[C]]) -> None:
        self._opener = opener
        self._client: C | None = None
        self._lock = anyio.Lock()

    async def get(self) -> C:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await self._opener()
        return self._client


class LazyClient(Lazy["CleavrClient"]):
    """Stands in for the CleavrClient until the first call, so start-up (and tools/list) never waits for the
    backend: the embedded sandbox and the HTTP client are opened by the first tool that needs them."""

    def __getattr__(self, name: str):
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await getattr(await self.get(), name)(*args, **kwargs)

        call.__name__ = name
        return call


@asynccontextmanager
async def open_state(settings: Settings, integrations: Integrations | None = None) -> AsyncIterator[AppState]:
    """`integrations` attaches the other clients (the server passes `tools.open_integrations`)."""
    settings.ensure_data_dir()
    async with AsyncExitStack() as stack:
        state: AppState | None = None

        async def open_backend() -> CleavrClient:
            if settings.uses_sandbox:
                http, client, demo = await _embedded_sandbox(settings, stack)
                assert state is not None
                state.demo_user_id = demo
            else:
                http, client = await _remote_api(settings, stack, state.database if state else None)
            assert state is not None
            state.http = http
            return client

        database = database_for(settings)
        stack.push_async_callback(database.close)
        await database.open()  # connects and applies pending migrations: a bad URL fails the start, not a call
        store = ServerStore(database)
        tokens = ConfirmationTokens(confirmation_key(settings), store, ttl_seconds=settings.confirmation_ttl_seconds)
        state = AppState(
            settings=settings,
            environment=settings.environment,
            http=None,  # type: ignore[arg-type]  # set when the backend opens
            client=LazyClient(open_backend),  # type: ignore[arg-type]
            tokens=tokens,
            store=store,
            database=database,
        )
        if integrations is not None:
            await integrations(state, stack)
        yield state
