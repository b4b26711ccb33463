"""Cleavr's OAuth tokens shared by replicas through PostgreSQL: a refresh is single-flight across replicas (row
lock), every replica ends up on the newest pair, and a rotated refresh token is never sent twice (the sandbox
refuses a reused one, so a second use would show as an auth error)."""

from __future__ import annotations

import time

import anyio
import httpx2
import pytest

from cleavr_mcp.cleavr import CleavrClient, TokenManager, authorize_with_code_flow
from cleavr_mcp.cleavr.auth import DatabaseTokenStore, TokenSet, fingerprint
from cleavr_mcp.cleavr.contract import ALL_SCOPES, Paths
from cleavr_mcp.storage import open_database

from .conftest import FAST_RETRY
from .test_sandbox_auth import CountingTransport

pytestmark = pytest.mark.anyio
REPLICAS = 4
CALLS_PER_REPLICA = 10


async def test_refresh_is_single_flight_across_replicas_and_every_replica_uses_the_newest_pair(
        sandbox_server, postgres_url):
    transport = CountingTransport()
    dbs = [open_database(postgres_url) for _ in range(REPLICAS)]
    async with httpx2.AsyncClient(transport=transport, timeout=10) as http:
        login = await authorize_with_code_flow(http, sandbox_server.base_url, sandbox_server.client_id,
                                               sandbox_server.client_secret, list(ALL_SCOPES))
        # Every replica is configured with the same refresh token (as from the deployment's environment); the
        # first to need a token seeds the database, and from then on the database's rotated pair wins.
        managers = [TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                                 sandbox_server.client_secret, DatabaseTokenStore(db),
                                 refresh_token=login.refresh_token) for db in dbs]
        clients = [CleavrClient(http, base_url=sandbox_server.base_url, auth=m, retry=FAST_RETRY) for m in managers]
        errors: list[Exception] = []

        async def call(client: CleavrClient) -> None:
            try:
                await client.get_commission_rates()
            except Exception as exc:  # noqa: BLE001 - collected and asserted empty
                errors.append(exc)

        async def round_of_calls() -> None:
            async with anyio.create_task_group() as tg:
                for client in clients:
                    for _ in range(CALLS_PER_REPLICA):
                        tg.start_soon(call, client)

        transport.paths.clear()
        await round_of_calls()  # no access token anywhere yet: one refresh for all replicas
        assert errors == [] and transport.paths[Paths.TOKEN] == 1
        first = await DatabaseTokenStore(dbs[0]).load()
        assert {m.tokens.access_token for m in managers} == {first.access_token}
        assert first.refresh_token != login.refresh_token and first.seeded_from == fingerprint(login.refresh_token)

        # The sandbox revokes the access token: every replica gets 401s; still one refresh between them.
        async with httpx2.AsyncClient(base_url=sandbox_server.base_url, timeout=10) as control:
            expired = await control.post("/sandbox/tokens/expire", json={},
                                         headers={"Authorization": f"Bearer {first.access_token}"})
            assert expired.status_code == 200 and expired.json()["expired_access_tokens"] == 1
        transport.paths.clear()
        await round_of_calls()
        assert errors == [] and transport.paths[Paths.TOKEN] == 1
        second = await DatabaseTokenStore(dbs[0]).load()
        assert second.refresh_token != first.refresh_token
        assert {m.tokens.access_token for m in managers} == {second.access_token}

        # A replica restarted later (new process, same configuration) resumes from the database's newest pair.
        restarted = TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                                 sandbox_server.client_secret, DatabaseTokenStore(open_database(postgres_url)),
                                 refresh_token=login.refresh_token, clock=lambda: time.time() + 3600)
        transport.paths.clear()
        await CleavrClient(http, base_url=sandbox_server.base_url, auth=restarted, retry=FAST_RETRY
                           ).get_commission_rates()
        assert transport.paths[Paths.TOKEN] == 1  # stale by its clock: it refreshed with the newest refresh token
        assert (await DatabaseTokenStore(dbs[0]).load()).refresh_token not in {login.refresh_token,
                                                                                first.refresh_token,
                                                                                second.refresh_token}
        await restarted.shared.db.close()
    for db in dbs:
        await db.close()


async def test_a_newly_configured_refresh_token_replaces_the_database_pair(sandbox_server, postgres_url):
    db = open_database(postgres_url)
    store = DatabaseTokenStore(db)
    async with store.locked() as row:
        await row.save(TokenSet(access_token="at_old", refresh_token="rt_old", seeded_from=fingerprint("rt_old")))
    async with httpx2.AsyncClient(timeout=10) as http:
        login = await authorize_with_code_flow(http, sandbox_server.base_url, sandbox_server.client_id,
                                               sandbox_server.client_secret, list(ALL_SCOPES))
        manager = TokenManager(http, sandbox_server.base_url + Paths.TOKEN, sandbox_server.client_id,
                               sandbox_server.client_secret, store, refresh_token=login.refresh_token)
        await CleavrClient(http, base_url=sandbox_server.base_url, auth=manager, retry=FAST_RETRY
                           ).get_commission_rates()
    saved = await store.load()
    assert saved.seeded_from == fingerprint(login.refresh_token) and saved.refresh_token != "rt_old"
    await db.close()
