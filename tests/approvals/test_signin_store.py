"""The sign-in codes' storage on both backends (SQLite, and a real PostgreSQL shared by "replicas"): a code issued
through one connection is accepted through another, spent exactly once by concurrent redeemers, never for another
principal, never after expiry; attempts are counted across replicas."""

from __future__ import annotations

import time

import anyio
import pytest

from cleavr_mcp.server.approvals.signin import SignInError, SignInStore, normalize_code
from cleavr_mcp.storage import open_database

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_a_code_is_spent_once_by_one_of_many_racers_on_two_replicas(database_url):
    first, second = open_database(database_url), open_database(database_url)
    try:
        issued = await SignInStore(first).issue("alice", ttl_seconds=600)
        stored = await first.fetchall("SELECT code_sha256, principal FROM approval_signin_codes")
        assert [r["principal"] for r in stored] == ["alice"]
        assert normalize_code(issued.code) not in stored[0]["code_sha256"]  # only a digest is kept
        wins: list[bool] = []
        now = time.time()

        async def redeem(db) -> None:
            wins.append(await SignInStore(db).redeem(issued.code, "alice", now))

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(redeem, (first, second)[i % 2])
        assert wins.count(True) == 1 and len(wins) == 16
    finally:
        await first.close()
        await second.close()


async def test_another_principal_an_expired_or_a_malformed_code_never_redeems(database_url):
    db = open_database(database_url)
    try:
        store = SignInStore(db)
        now = time.time()
        bobs = await store.issue("bob", ttl_seconds=600, now=now)
        old = await store.issue("alice", ttl_seconds=600, now=now - 601)
        assert not await store.redeem(bobs.code, "alice", now)  # B's code on A's write…
        assert await store.redeem(bobs.code, "bob", now)  # …was not spent: B still signs in with it
        assert not await store.redeem(old.code, "alice", now)
        assert not await store.redeem("", "alice", now) and not await store.redeem("x" * 10_000, "alice", now)
        late = await store.issue("carol", ttl_seconds=60, now=now)
        assert not await store.redeem(late.code, "carol", now + 60)
        with pytest.raises(SignInError, match="principal"):
            await store.issue("line\nbreak", ttl_seconds=600)
        with pytest.raises(SignInError, match="between 1 minute and 24 hours"):
            await store.issue("alice", ttl_seconds=10)
    finally:
        await db.close()


async def test_attempts_are_counted_across_replicas(database_url):
    first, second = open_database(database_url), open_database(database_url)
    try:
        now = time.time()
        one = await SignInStore(first).begin_attempt(["approval:x", "client:1.2.3.4"], now)
        await SignInStore(second).begin_attempt(["approval:x", "client:1.2.3.4"], now)
        assert await SignInStore(second).attempts("approval:x", 0) == 2
        assert await SignInStore(first).attempts("client:1.2.3.4", now - 1) == 2
        assert await SignInStore(first).attempts("client:1.2.3.4", now + 1) == 0  # outside the window
        await SignInStore(second).forget_attempt(one)
        assert await SignInStore(first).attempts("approval:x", 0) == 1
    finally:
        await first.close()
        await second.close()
