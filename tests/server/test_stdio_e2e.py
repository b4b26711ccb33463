"""The real command, spawned over stdio, as Claude Desktop runs it: list tools, submit and cancel on the sandbox."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from cleavr_mcp.config import Settings

from .conftest import Human, demo_user, submission

pytestmark = pytest.mark.anyio


async def test_stdio_list_submit_cancel(tmp_path):
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data")}
    env.pop("CLEAVR_MCP_BASE_URL", None)
    params = StdioServerParameters(command=sys.executable, args=["-m", "cleavr_mcp.cli", "serve"], env=env,
                                   cwd=str(tmp_path))
    human = Human()
    async with Client(params, elicitation_callback=human) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        assert {"submit_receivable", "cancel_receivable", "quote_commission"} <= tools
        status = await c.call_tool("get_user_status", {"user_id": "usr_clv_unknown"})
        assert status.is_error and "NOT_FOUND" in status.content[0].text

        user = demo_user(Settings(_env_file=None, data_dir=tmp_path / "data"))
        submitted = await c.call_tool("submit_receivable", {"receivable": submission(user)})
        assert not submitted.is_error, submitted.content
        rec = submitted.structured_content["receivable"]
        assert submitted.structured_content["environment"] == "sandbox"
        cancelled = await c.call_tool("cancel_receivable", {"receivable_id": rec["id"], "reason": "business_decision"})
        assert cancelled.structured_content["receivable"]["status"] == "cancelled"
    assert len(human.asked) == 2
