"""`cleavr-mcp serve` is quiet by default: no line per request on stderr; `--log-level info` brings them back."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("flags", "per_request_lines"), [([], False), (["--log-level", "info"], True)])
async def test_per_request_log_lines_only_when_asked(tmp_path, flags, per_request_lines):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    env["CLEAVR_MCP_DATA_DIR"] = str(tmp_path / "data")
    params = StdioServerParameters(command=sys.executable, args=["-m", "cleavr_mcp.cli", "serve", *flags], env=env,
                                   cwd=str(tmp_path))
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            for days in (10, 60, 200):  # three calls, each one request to the embedded sandbox
                quote = await client.call_tool("quote_commission", {"amount": "100.00", "days_overdue": days})
                assert not quote.is_error, quote.content
    requests = [line for line in stderr.read_text().splitlines() if "HTTP Request" in line]
    assert bool(requests) is per_request_lines, requests
    if per_request_lines:
        assert len(requests) >= 3
