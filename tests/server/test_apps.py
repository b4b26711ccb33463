"""MCP Apps on the server side: the ui:// views are served as text/html;profile=mcp-app, bound to their tools, and
a host without Apps gets exactly the plain text + structuredContent it always got."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from mcp import Client

from cleavr_mcp.cleavr.models import Receivable
from cleavr_mcp.domain.portfolio import portfolio_figures
from cleavr_mcp.tools.shapes import ReceivableView
from cleavr_mcp.views import PORTFOLIO_URI, RECEIVABLE_URI, VIEWS, view_html

from .conftest import demo_user, embedded_admin  # noqa: F401

pytestmark = pytest.mark.anyio
APP_MIME = "text/html;profile=mcp-app"


async def test_views_are_listed_and_read_back_as_mcp_app_html(server):
    async with Client(server) as c:
        listed = {r.uri: r for r in (await c.list_resources()).resources if r.uri.startswith("ui://")}
        assert set(listed) == set(VIEWS) == {PORTFOLIO_URI, RECEIVABLE_URI}
        for uri, resource in listed.items():
            assert resource.mime_type == APP_MIME
            content = (await c.read_resource(uri)).contents[0]
            assert content.mime_type == APP_MIME
            assert content.text == view_html(uri)


def test_views_are_self_contained_and_never_reach_the_network():
    for uri in VIEWS:
        html = view_html(uri)
        assert html.startswith("<!doctype html>")
        # One inline script and one inline style; no src/href to load anything, no URL to call.
        assert len(re.findall(r"<script\b", html)) == 1 and "<script src" not in html
        assert not re.search(r"<(link|img|iframe)\b", html)
        assert not re.search(r"""\b(src|href)\s*=\s*["']https?:""", html)


async def test_tools_name_their_views_and_the_view_only_tool_is_hidden_from_the_model(server):
    async with Client(server) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    ui = {name: t.meta["ui"] for name, t in tools.items() if t.meta and "ui" in t.meta}
    assert ui == {"show_portfolio": {"resourceUri": PORTFOLIO_URI},
                  "get_receivable": {"resourceUri": RECEIVABLE_URI},
                  "receivable_timeline": {"resourceUri": RECEIVABLE_URI, "visibility": ["app"]}}
    assert tools["show_portfolio"].annotations.read_only_hint and tools["receivable_timeline"].annotations.read_only_hint


async def test_the_server_advertises_the_apps_extension(server):
    # 2026-07-28 capabilities carry extensions (the SDK leaves them out of 2025-11-25 ones: hosts there go by the
    # tools' _meta.ui, which both eras list).
    async with Client(server) as c:
        assert "io.modelcontextprotocol/ui" in (c.server_capabilities.extensions or {})


async def test_without_apps_get_receivable_is_plain_text_plus_structured_content(server, settings, admin):
    rid = await admin.create_receivable(demo_user(settings), "INV-APPS-PLAIN")
    async with Client(server) as c:  # this client declares no Apps support
        result = await c.call_tool("get_receivable", {"receivable_id": rid})
    assert not result.is_error
    assert [block.type for block in result.content] == ["text"]
    assert json.loads(result.content[0].text) == result.structured_content
    assert ReceivableView.model_validate(result.structured_content).id == rid


async def test_show_portfolio_figures_are_the_domain_figures_of_the_api_data(server, settings, admin):
    user = demo_user(settings)
    first = await admin.create_receivable(user, "INV-APPS-P1")
    await admin.create_receivable(user, "INV-APPS-P2", start=False)
    await admin.advance(first, "partial_payment", paid_amount="1000.00")
    async with Client(server) as c:
        result = await c.call_tool("show_portfolio", {"user_id": user})
    assert not result.is_error, result.content
    data = result.structured_content
    api = [Receivable.model_validate(r) for r in (await admin.get("/v1/receivables", user_id=user, limit=100))["data"]]
    expected = json.loads(portfolio_figures(api, date.today()).model_dump_json())
    assert {k: data[k] for k in expected} == expected
    assert data["outstanding"] == "9000.00" and data["recovered"] == "1000.00"
    assert [p["receivable_id"] for p in data["partial_payments_awaiting_decision"]] == [first]
    assert data["creditors_not_onboarded"] == []  # the demo creditor is onboarded
    assert "9,000.00" in data["summary"]


async def test_receivable_timeline_lists_submission_status_and_next_action(server, settings, admin):
    rid = await admin.create_receivable(demo_user(settings), "INV-APPS-T1")
    async with Client(server) as c:
        result = await c.call_tool("receivable_timeline", {"receivable_id": rid})
        missing = await c.call_tool("receivable_timeline", {"receivable_id": "rec_nosuchthing000"})
    kinds = [e["kind"] for e in result.structured_content["entries"]]
    assert kinds[0] == "submitted" and "status" in kinds and kinds[-1] == "next_action"
    assert result.structured_content["entries"][-1]["planned"] is True
    assert missing.is_error and "NOT_FOUND" in missing.content[0].text
