"""Attack: a subscription opened before the principals file took a creditor away keeps hearing that creditor's
events (receivable ids, in both protocol eras): the subscriber's principal was kept as it was when it
subscribed. Removing a principal (or a creditor from it) must end what its open streams are told."""

from __future__ import annotations

import anyio
import pytest

from cleavr_mcp.events.hub import UNHANDLED_URI, receivable_uri

from .test_events_reach_their_creditor import subscriber, until
from .world import CALLERS, ERAS, LOOKS, World, envelope, post_webhook, principals_toml, running_world

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy-revoked")) as w:
        yield w


@pytest.mark.parametrize("era", ERAS)
async def test_a_removed_principals_open_subscription_hears_nothing_more(world: World, era: str) -> None:
    a = world.creditors["a"]
    uris = [UNHANDLED_URI, receivable_uri(a.receivable_id)]
    principals = world.settings.principals_file
    kept = principals.read_text()
    try:
        async with subscriber(world, "R", era, uris) as (revoked_heard, _), \
                subscriber(world, "ADMIN", era, uris) as (admin_heard, _):
            await anyio.sleep(0.2)
            principals.write_text(principals_toml([c for n, c in CALLERS.items() if n != "R"], world.creditors))
            await anyio.sleep(1.1)  # past the file's stat interval: the next look at it sees the change
            body = envelope(f"evt_revoked{era}", "payment.received", receivable_id=a.receivable_id,
                            amount=LOOKS["a"].amount)
            assert post_webhook(world.base, body).status_code == 200
            await until(lambda: receivable_uri(a.receivable_id) in admin_heard)
            await anyio.sleep(0.5)  # anything on its way to R arrives
            assert revoked_heard == [], revoked_heard
    finally:
        principals.write_text(kept)
        await anyio.sleep(1.1)
