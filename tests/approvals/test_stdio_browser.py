"""Over stdio, as Claude Desktop runs it: the real command, a client without elicitation, and $BROWSER set to a
script that records the URL it is asked to open (what Python's webbrowser runs). The person approves on that
page; the model's second call with the same arguments writes, once. Both protocol eras."""

from __future__ import annotations

import os
import re
import stat
import sys
import time

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox.testing import demo_user_id
from cleavr_mcp.testing import submission

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_opens_the_page_with_browser_and_writes_once(tmp_path, mode):
    record = tmp_path / "opened.txt"
    script = tmp_path / "record-browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {record}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data"), "BROWSER": str(script),
           "CLEAVR_MCP_APPROVAL_WAIT_SECONDS": "0"}
    env.pop("CLEAVR_MCP_BASE_URL", None)
    env.pop("CLEAVR_MCP_CONFIRM_CHANNEL", None)
    params = StdioServerParameters(command=sys.executable, args=["-m", "cleavr_mcp.cli", "serve"], env=env,
                                   cwd=str(tmp_path))
    async with Client(params, mode=mode) as c:
        user = demo_user_id(Settings(_env_file=None, data_dir=tmp_path / "data").sandbox_db_path)
        args = {"receivable": submission(user)}
        first = await c.call_tool("submit_receivable", args)
        assert first.structured_content["status"] == "approval_pending", first.content[0].text[:400]
        assert "127.0.0.1" not in first.content[0].text
        deadline = time.monotonic() + 10
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = record.read_text().split()[-1]
        assert url.startswith("http://127.0.0.1:") and "/approvals/" in url
        async with httpx2.AsyncClient() as http:
            page = await http.get(url)
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            decided = await http.post(url, data={**hidden, "decision": "approve"},
                                      headers={"Origin": url.split("/approvals/")[0]})
        assert decided.status_code == 303
        done = await c.call_tool("submit_receivable", args)
        assert done.structured_content["status"] == "done", done.content[0].text[:400]
        again = await c.call_tool("submit_receivable", args)
        assert again.structured_content["status"] == "approval_pending"  # the decision was spent
