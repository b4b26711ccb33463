"""Results serialised once (server/results.py) are exactly what the SDK's own conversion gives: the same text
block, the same structured content, for each result model a workflow goes through (a receivable in full with a
dispute and a partial payment, lists, quotes, write outcomes); everything else still takes the SDK's path. And the
client validates results with one compiled validator per tool, kept across re-listings."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata

from cleavr_mcp.server.results import OnceConverted

from .conftest import Human, client, demo_user, submission

pytestmark = pytest.mark.anyio


@pytest.fixture
def compared(monkeypatch):
    """Every conversion, with the SDK's conversion of the same result beside it."""
    seen: list[tuple[str, object, object]] = []
    ours = OnceConverted.convert_result

    def both(self, result):
        converted = ours(self, result)
        seen.append((type(result).__name__, converted, FuncMetadata.convert_result(self, result)))
        return converted

    monkeypatch.setattr(OnceConverted, "convert_result", both)
    return seen


async def test_once_converted_results_equal_the_sdk_conversion(server, settings, admin, compared):
    async with client(server, "auto", Human()) as c:
        await c.call_tool("quote_commission", {"amount": "5000.00", "days_overdue": 90, "include_rate_table": True})
        rec = (await c.call_tool("submit_receivable", {"receivable": submission(demo_user(settings))}))
        rid = rec.structured_content["receivable"]["id"]
        await c.call_tool("get_receivable", {"receivable_id": rid})
        await admin.post(f"/sandbox/receivables/{rid}/advance", {"action": "start_recovery"})
        await admin.post(f"/sandbox/receivables/{rid}/advance", {"action": "partial_payment", "paid_amount": "3000.00"})
        await c.call_tool("get_receivable", {"receivable_id": rid})
        other = (await c.call_tool("submit_receivable", {"receivable": submission(demo_user(settings), number="D-1")}))
        oid = other.structured_content["receivable"]["id"]
        await admin.post(f"/sandbox/receivables/{oid}/advance", {"action": "start_recovery"})
        await admin.post(f"/sandbox/receivables/{oid}/advance", {
            "action": "dispute", "reason": "service_not_delivered", "debtor_message": "Never got it.\u200b",
            "evidence_requested": ["delivery_confirmation"]})
        await c.call_tool("get_receivable", {"receivable_id": oid})
        await c.call_tool("list_receivables", {"limit": 1})
        await c.call_tool("get_receivable", {"receivable_id": "rec_doesnotexist"})  # an error: the SDK's path
    models = {name for name, _, _ in compared}
    assert {"Quote", "SubmitOutcome", "ReceivableView", "ReceivableListView", "CallToolResult"} <= models
    for name, converted, expected in compared:
        if name == "InputRequiredResult":  # a question round: passed through as it is
            assert converted is expected
            continue
        assert converted.content == expected.content, name
        assert converted.structured_content == expected.structured_content, name
        assert converted.is_error == expected.is_error, name
    views = [c for name, c, _ in compared if name == "ReceivableView"]
    assert views[1].structured_content["partial_payment"]["paid_amount"] == "3000.00"
    assert views[2].structured_content["dispute"]["debtor_message"]["text"] == "Never got it."


async def test_the_client_compiles_our_output_schema_once(server, settings, admin):
    """Our tools/list is built once, so a re-listing hands the SDK client the same schema and it keeps its compiled
    validator (compiling costs ~60× a validation): nothing in our schemas defeats the client's cache."""
    rid = await admin.create_receivable(demo_user(settings), "INV-CACHE-1")
    async with client(server) as c:
        await c.call_tool("get_receivable", {"receivable_id": rid})
        compiled = c.session._tool_output_validators["get_receivable"]
        await c.list_tools(cache_mode="refresh")  # a real re-listing, not the response cache
        again = await c.call_tool("get_receivable", {"receivable_id": rid})
        assert not again.is_error, again.content
        assert c.session._tool_output_validators["get_receivable"] is compiled
