"""Migration 3 on both backends: the principal on every audit row (filterable), users granted to principals,
owners of ids (written once, never changed)."""

from __future__ import annotations

import pytest

from cleavr_mcp.domain.tenancy import Principal, acting_as
from cleavr_mcp.storage import open_database
from cleavr_mcp.toolkit.store import ServerStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url):
    db = open_database(database_url)
    await db.open()
    try:
        yield ServerStore(db)
    finally:
        await db.close()


def audit(store: ServerStore, tool: str):
    return store.append_audit(tool=tool, environment="sandbox", user_id=None, payload_sha256="0" * 64,
                              confirmed_by="none", outcome="refused")


async def test_every_audit_row_names_its_principal(store):
    await audit(store, "outside-any-request")  # stdio / direct: the local principal
    with acting_as(Principal(name="acme", user_ids=frozenset({"usr_a"}))):
        await audit(store, "as-acme")
    with acting_as(Principal(name="bravo", user_ids=frozenset({"usr_b"}))):
        await audit(store, "as-bravo")
    await store.append_audit(tool="explicit", environment="sandbox", user_id=None, payload_sha256="0" * 64,
                             confirmed_by="none", outcome="refused", principal="named")
    rows = await store.audit_rows()
    assert [(r.tool, r.principal) for r in rows] == [("outside-any-request", "local"), ("as-acme", "acme"),
                                                     ("as-bravo", "bravo"), ("explicit", "named")]
    assert [r.tool for r in await store.audit_rows(principal="acme")] == ["as-acme"]
    assert rows[1].as_dict()["principal"] == "acme"


async def test_granted_users_and_id_owners(store):
    assert await store.granted_users("acme") == frozenset()
    await store.grant_user("acme", "usr_new")
    await store.grant_user("acme", "usr_new")  # twice: once
    await store.grant_user("bravo", "usr_other")
    assert await store.granted_users("acme") == {"usr_new"}
    assert await store.owner_of("receivable", "rec_1") is None
    await store.remember_owner("receivable", "rec_1", "usr_a")
    await store.remember_owner("receivable", "rec_1", "usr_b")  # an owner never changes: the first one stays
    assert await store.owner_of("receivable", "rec_1") == "usr_a"
    assert await store.owner_of("extraction", "rec_1") is None  # kinds are separate
