"""Every tool is described for the model: title, four annotations, input and output schemas; the list is snapshotted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.toolkit.registry import Kind
from cleavr_mcp.tools import all_tools

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"
EXPECTED = {"create_user", "get_user_status", "submit_receivable", "extract_pdf", "quote_commission", "list_receivables",
            "get_receivable", "cancel_receivable", "submit_evidence", "add_contact", "handle_partial_payment",
            "submit_receivables_batch"}


@pytest.fixture
def listing_server(tmp_path):
    # A remote base URL: listing tools needs no backend, so no sandbox is started.
    return build_server(Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9"))


async def _tools(server) -> list[dict]:
    async with Client(server) as c:
        listed = (await c.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]


async def test_the_issue_tool_set_is_complete(listing_server):
    names = {t["name"] for t in await _tools(listing_server)}
    assert EXPECTED <= names


async def test_every_tool_is_fully_described(listing_server):
    for tool in await _tools(listing_server):
        name = tool["name"]
        assert tool.get("title"), name
        assert len(tool.get("description", "")) > 80, name
        ann = tool["annotations"]
        for hint in ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"):
            assert isinstance(ann.get(hint), bool), (name, hint)
        assert tool["outputSchema"]["type"] == "object", name
        assert tool["inputSchema"]["type"] == "object", name
        if ann["readOnlyHint"]:
            assert not ann["destructiveHint"], name


async def test_annotations_follow_the_declared_kind():
    for spec in all_tools().values():
        ann = spec.annotations
        assert ann.read_only_hint == (spec.kind is Kind.READ)
        assert ann.destructive_hint == (spec.kind is Kind.DESTRUCTIVE)
    specs = all_tools()
    assert specs["cancel_receivable"].kind is Kind.DESTRUCTIVE
    assert specs["handle_partial_payment"].kind is Kind.DESTRUCTIVE
    assert specs["submit_receivable"].kind is Kind.WRITE and specs["submit_receivable"].open_world


async def test_risky_tools_offer_the_token_fallback_and_never_force_proceed(listing_server):
    tools = {t["name"]: t for t in await _tools(listing_server)}
    for name in ("submit_receivable", "submit_receivables_batch", "cancel_receivable", "submit_evidence",
                 "handle_partial_payment"):
        assert "confirmation_token" in tools[name]["inputSchema"]["properties"], name
        assert "force_proceed" not in json.dumps(tools[name]["inputSchema"]), name
        assert "answer" not in tools[name]["inputSchema"]["properties"], name


async def test_tools_list_matches_the_snapshot(listing_server):
    """Schema changes must show up in review: regenerate with UPDATE_SNAPSHOTS=1 and commit the diff."""
    current = json.dumps(sorted(await _tools(listing_server), key=lambda t: t["name"]), indent=1, sort_keys=True,
                         ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "no snapshot: run UPDATE_SNAPSHOTS=1 pytest once and commit it"
    assert current == SNAPSHOT.read_text(), "tools/list changed: run UPDATE_SNAPSHOTS=1 pytest and review the diff"
