"""Confirmation tokens: only the exact payload, once, before expiry, signed by our key - on either state backend
(each test runs against a SQLite file and a PostgreSQL database)."""

import pytest

from cleavr_mcp.storage import DatabaseError, open_database
from cleavr_mcp.toolkit.confirm import ConfirmationError, ConfirmationTokens
from cleavr_mcp.toolkit.store import ServerStore

pytestmark = pytest.mark.anyio

KEY = b"k" * 32
PAYLOAD = {"receivable": {"user_id": "usr_clv_1", "invoice": {"amount": "5000.00"}}}


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(database_url):
    s = ServerStore(open_database(database_url))
    yield s
    await s.close()


async def test_token_redeems_once_for_the_exact_payload(store):
    tokens = ConfirmationTokens(KEY, store)
    token, _ = tokens.mint("submit_receivable", PAYLOAD)
    await tokens.redeem("submit_receivable", {**PAYLOAD}, token)
    with pytest.raises(ConfirmationError) as exc:
        await tokens.redeem("submit_receivable", PAYLOAD, token)
    assert exc.value.reason == "replayed"


async def test_changed_payload_is_refused(store):
    tokens = ConfirmationTokens(KEY, store)
    token, _ = tokens.mint("submit_receivable", PAYLOAD)
    changed = {"receivable": {"user_id": "usr_clv_1", "invoice": {"amount": "5000.01"}}}
    with pytest.raises(ConfirmationError) as exc:
        await tokens.redeem("submit_receivable", changed, token)
    assert exc.value.reason == "changed"
    await tokens.redeem("submit_receivable", PAYLOAD, token)  # the refused attempt did not spend it


async def test_expired_token_is_refused(store):
    clock = Clock()
    tokens = ConfirmationTokens(KEY, store, ttl_seconds=600, clock=clock)
    token, expires = tokens.mint("cancel_receivable", PAYLOAD)
    assert expires == int(clock.now) + 600
    clock.now += 601
    with pytest.raises(ConfirmationError) as exc:
        await tokens.redeem("cancel_receivable", PAYLOAD, token)
    assert exc.value.reason == "expired"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature altered
    lambda t: t.split(".")[0] + "." + t.split(".")[1][:-1] + "Q." + t.split(".")[2],  # claims altered
])
async def test_forged_token_is_refused(store, mangle):
    tokens = ConfirmationTokens(KEY, store)
    token, _ = tokens.mint("submit_receivable", PAYLOAD)
    with pytest.raises(ConfirmationError) as exc:
        await tokens.redeem("submit_receivable", PAYLOAD, mangle(token))
    assert exc.value.reason in {"forged", "malformed"}


async def test_token_from_another_key_is_forged(store):
    other = ConfirmationTokens(b"x" * 32, store)
    token, _ = other.mint("submit_receivable", PAYLOAD)
    with pytest.raises(ConfirmationError) as exc:
        await ConfirmationTokens(KEY, store).redeem("submit_receivable", PAYLOAD, token)
    assert exc.value.reason == "forged"


async def test_token_for_another_tool_is_refused(store):
    tokens = ConfirmationTokens(KEY, store)
    token, _ = tokens.mint("submit_receivable", PAYLOAD)
    with pytest.raises(ConfirmationError) as exc:
        await tokens.redeem("cancel_receivable", PAYLOAD, token)
    assert exc.value.reason == "other_tool"


@pytest.mark.parametrize("garbage", ["", "abc", "cmc1.x", "cmc2.a.b", "cmc1..", "cmc1.!!!.sig"])
async def test_garbage_is_refused_cleanly(store, garbage):
    with pytest.raises(ConfirmationError) as exc:
        await ConfirmationTokens(KEY, store).redeem("submit_receivable", PAYLOAD, garbage)
    assert exc.value.reason in {"malformed", "forged"}


async def test_two_instances_with_the_same_key_accept_each_other(database_url):
    store_a, store_b = ServerStore(open_database(database_url)), ServerStore(open_database(database_url))
    a, b = ConfirmationTokens(KEY, store_a), ConfirmationTokens(KEY, store_b)
    token, _ = a.mint("submit_receivable", PAYLOAD)
    await b.redeem("submit_receivable", PAYLOAD, token)
    with pytest.raises(ConfirmationError):
        await a.redeem("submit_receivable", PAYLOAD, token)
    await store_a.close()
    await store_b.close()


async def test_spent_tokens_survive_a_restart(database_url):
    first = ServerStore(open_database(database_url))
    token, _ = ConfirmationTokens(KEY, first).mint("submit_receivable", PAYLOAD)
    await ConfirmationTokens(KEY, first).redeem("submit_receivable", PAYLOAD, token)
    await first.close()
    again = ServerStore(open_database(database_url))
    with pytest.raises(ConfirmationError) as exc:
        await ConfirmationTokens(KEY, again).redeem("submit_receivable", PAYLOAD, token)
    assert exc.value.reason == "replayed"
    await again.close()


async def test_audit_log_is_append_only(store):
    await store.append_audit(tool="t", environment="sandbox", user_id=None, payload_sha256="h", confirmed_by="token",
                             outcome="done")
    with pytest.raises(DatabaseError, match="append-only"):
        await store.db.execute("UPDATE audit SET outcome = 'x'")
    with pytest.raises(DatabaseError, match="append-only"):
        await store.db.execute("DELETE FROM audit")
    assert [r.outcome for r in await store.audit_rows()] == ["done"]
