"""How the CleverInvo tools are described to the model: annotations set deliberately, hidden resolver parameters,
the token fallback on the writes, and a snapshot of their tools/list entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.toolkit.registry import Kind, Toolset
from cleavr_mcp.tools import all_tools

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parent / "snapshots" / "cleverinvo_tools.json"
WRITES = ("recover_invoice", "recover_invoices")
READS = ("list_overdue_invoices", "search_clients", "get_invoice")


@pytest.fixture
def listing_server(tmp_path):
    # CleverInvo configured, Cleavr remote: listing needs no backend at all.
    return build_server(Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9",
                                 cleverinvo_base_url="http://127.0.0.1:9/api/v1", cleverinvo_api_key="cinv_x"))


async def _tools(server) -> dict[str, dict]:
    async with Client(server) as c:
        listed = (await c.list_tools()).tools
    dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
    return {t["name"]: t for t in dumped if t["name"] in WRITES + READS}


def test_declared_kinds():
    specs = {n: s for n, s in all_tools().items() if s.toolset is Toolset.CLEVERINVO}
    assert set(specs) == set(WRITES + READS)
    for name in READS:
        assert specs[name].kind is Kind.READ and specs[name].idempotent and not specs[name].money
        assert not specs[name].open_world
    for name in WRITES:
        # Debtors get contacted: money, open world; repeating is safe (never a second receivable).
        spec = specs[name]
        assert spec.kind is Kind.WRITE and spec.money and spec.open_world and spec.idempotent


async def test_schemas_hide_the_resolvers_and_offer_the_token(listing_server):
    tools = await _tools(listing_server)
    assert set(tools) == set(WRITES + READS)
    for name, tool in tools.items():
        props = tool["inputSchema"]["properties"]
        assert tool.get("title") and len(tool["description"]) > 150, name
        assert tool["outputSchema"]["type"] == "object", name
        assert not {"ctx", "loaded", "answer", "force_proceed"} & set(props), name
        assert ("confirmation_token" in props) == (name in WRITES), name
    recover = tools["recover_invoice"]["inputSchema"]
    assert recover["required"] == ["invoice_id", "user_id"]
    assert tools["recover_invoices"]["inputSchema"]["properties"]["min_days_overdue"]["default"] == 45
    assert tools["list_overdue_invoices"]["inputSchema"]["properties"]["limit"]["maximum"] == 100


async def test_tools_list_matches_the_snapshot(listing_server):
    """Regenerate with UPDATE_SNAPSHOTS=1 and review the diff."""
    current = json.dumps([t for _, t in sorted((await _tools(listing_server)).items())], indent=1, sort_keys=True,
                         ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "no snapshot: run UPDATE_SNAPSHOTS=1 pytest once and commit it"
    assert current == SNAPSHOT.read_text()
