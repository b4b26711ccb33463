"""A confirmation token is bound to the principal it was minted for (CLEAVR_MCP_CONFIRM_CHANNEL=model-token, the
agent-confirms opt-in), over real HTTP in both eras: ADMIN, who may act for creditor a too, presents A's token with
A's exact arguments and gets no write (and the token is not spent); A's own call with it then goes through once."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from .world import CALLERS, ERAS, LOOKS, World, connect, receivable_body, running_world

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("tenancy-tokens"), confirm_channel="model-token") as w:
        yield w


def receivables(world: World) -> int:
    with sqlite3.connect(world.settings.sandbox_db_path) as db:
        return db.execute("SELECT COUNT(*) FROM receivables").fetchone()[0]


@pytest.mark.parametrize("era", ERAS)
async def test_a_token_minted_for_a_is_useless_to_admin(world: World, era: str) -> None:
    a = world.creditors["a"]
    args = {"receivable": receivable_body(a.user_id, LOOKS["a"], f"INV-TOKEN-{era}-{uuid.uuid4().hex[:6]}")}
    async with connect(world, CALLERS["A"], era) as client:
        asked = await client.call_tool("submit_receivable", args)
    assert not asked.is_error, asked.content
    assert asked.structured_content["status"] == "confirmation_required", asked.structured_content
    token = asked.structured_content["confirmation"]["confirmation_token"]
    before = receivables(world)

    async with connect(world, CALLERS["ADMIN"], era) as client:
        stolen = await client.call_tool("submit_receivable", {**args, "confirmation_token": token})
    assert receivables(world) == before, "ADMIN spent A's confirmation token"
    assert stolen.is_error or stolen.structured_content["status"] != "done", stolen.structured_content

    async with connect(world, CALLERS["A"], era) as client:
        done = await client.call_tool("submit_receivable", {**args, "confirmation_token": token})
    assert not done.is_error, done.content
    assert done.structured_content["status"] == "done" and receivables(world) == before + 1
