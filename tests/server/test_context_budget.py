"""Context cost: what a model is shown for the tool list stays within the budgets of issue 19 (bytes, measured on
the wire form); benchmarks/context_cost.py prints the same figures per tool, with cl100k tokens."""

from __future__ import annotations

import pytest

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server

from .conftest import client, demo_user, submission

pytestmark = pytest.mark.anyio


@pytest.fixture
def every_tool_server(tmp_path):
    # Every toolset, CleverInvo included (as the embedded sandbox serves by default); listing needs no backend.
    return build_server(Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9",
                                 cleverinvo_base_url="http://127.0.0.1:9/api/v1", cleverinvo_api_key="cinv_x"))


async def _tools(server) -> dict[str, dict]:
    async with client(server) as c:
        listed = (await c.list_tools()).tools
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed}


async def test_the_batch_refers_to_submit_receivable_instead_of_repeating_its_schema(every_tool_server):
    tools = await _tools(every_tool_server)
    items = tools["submit_receivables_batch"]["inputSchema"]["properties"]["receivables"]["items"]
    assert "submit_receivable" in items["description"] and set(items["required"]) == {"user_id", "invoice", "debtor"}
    assert "$defs" not in tools["submit_receivables_batch"]["inputSchema"]
    receivable = tools["submit_receivable"]["inputSchema"]["properties"]["receivable"]
    assert "email" in receivable["properties"]["debtor"]["properties"]["contacts"]["items"]["properties"]


async def test_a_batch_item_is_still_validated_in_full(server, settings):
    item = submission(demo_user(settings), number="V-1")
    del item["invoice"]["due_date"]
    async with client(server) as c:
        result = await c.call_tool("submit_receivables_batch", {"receivables": [item]})
    assert result.is_error
    text = result.content[0].text
    assert "VALIDATION_ERROR" in text and "due_date" in text


async def test_every_schema_shown_is_valid_json_schema(every_tool_server):
    from jsonschema import Draft202012Validator

    for tool in (await _tools(every_tool_server)).values():
        for key in ("inputSchema", "outputSchema"):
            Draft202012Validator.check_schema(tool[key])  # raises SchemaError naming the bad part


async def test_what_a_model_is_shown_stays_within_budget(every_tool_server):
    """Issue 19's budgets: name + description + inputSchema ≤ 20 KB for all tools and ≤ 3 KB for any one; output
    schemas ≤ 20 KB in all. Over budget? benchmarks/context_cost.py prints each tool's bytes and tokens."""
    from cleavr_mcp.server.schemas import (
        OUTPUT_BUDGET_BYTES,
        SHOWN_BUDGET_BYTES,
        SHOWN_PER_TOOL_BYTES,
        json_size,
        shown_to_model,
    )

    tools = await _tools(every_tool_server)
    assert len(tools) >= 20  # every toolset is measured, CleverInvo included
    shown = {name: json_size(shown_to_model(tool)) for name, tool in tools.items()}
    output = {name: json_size(tool["outputSchema"]) for name, tool in tools.items()}
    over = {name: size for name, size in shown.items() if size > SHOWN_PER_TOOL_BYTES}
    assert not over, f"tools over {SHOWN_PER_TOOL_BYTES} B shown to the model: {over}"
    assert sum(shown.values()) <= SHOWN_BUDGET_BYTES, f"shown to the model: {sum(shown.values())} B; largest: " + \
        ", ".join(f"{n} {b}" for n, b in sorted(shown.items(), key=lambda kv: -kv[1])[:5])
    assert sum(output.values()) <= OUTPUT_BUDGET_BYTES, f"output schemas: {sum(output.values())} B; largest: " + \
        ", ".join(f"{n} {b}" for n, b in sorted(output.items(), key=lambda kv: -kv[1])[:5])


async def test_each_description_says_when_to_call_and_what_comes_next(every_tool_server):
    # Shorter, not emptier: every description still points at a neighbouring tool (before or after it), except
    # the self-contained reads whose result names the next tool itself.
    tools = await _tools(every_tool_server)
    self_contained = {"show_portfolio", "receivable_timeline", "get_invoice", "add_contact",
                      "update_receivable_metadata", "cancel_receivable", "handle_partial_payment"}
    for name, tool in tools.items():
        if name in self_contained:
            continue
        others = [other for other in tools if other != name and other in tool["description"]]
        assert others, f"{name}'s description names no other tool: {tool['description']!r}"
