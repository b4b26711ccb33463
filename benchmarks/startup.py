"""Start-up cost: spawn → initialize → tools/list over stdio, cleavr-mcp vs a minimal one-tool MCPServer.

Both are started the same way (a fresh Python process, stdio), interleaved, median of N runs; prints the ratio
(target ≤ 1.2×) and the size of the tools/list payload. Absolute times are for context only (noisy machines).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

MINIMAL = '''
from mcp.server import MCPServer
mcp = MCPServer("minimal")

@mcp.tool()
def ping(text: str) -> str:
    """Echo."""
    return text

mcp.run()
'''


async def one_run(params: StdioServerParameters) -> tuple[float, int]:
    start = time.perf_counter()
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
    elapsed = time.perf_counter() - start
    payload = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools])
    return elapsed, len(payload.encode())


async def main(runs: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="cleavr-bench-"))
    minimal_file = tmp / "minimal.py"
    minimal_file.write_text(MINIMAL)
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp / "data")}
    env.pop("CLEAVR_MCP_BASE_URL", None)
    ours = StdioServerParameters(command=sys.executable, args=["-m", "cleavr_mcp.cli", "serve"], env=env, cwd=str(tmp))
    minimal = StdioServerParameters(command=sys.executable, args=[str(minimal_file)], env=env, cwd=str(tmp))
    await one_run(ours)  # warm the OS file cache for both before measuring
    await one_run(minimal)
    t_ours, t_min, size = [], [], 0
    for _ in range(runs):
        elapsed, size = await one_run(ours)
        t_ours.append(elapsed)
        t_min.append((await one_run(minimal))[0])
    return {
        "startup_ratio": statistics.median(t_ours) / statistics.median(t_min),
        "startup_ms": statistics.median(t_ours) * 1000,
        "minimal_ms": statistics.median(t_min) * 1000,
        "tools_list_bytes": size,
        "tools_list_tokens_approx": size // 4,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    result = anyio.run(main, parser.parse_args().runs)
    print(f"start-up (spawn→tools/list, median): cleavr-mcp {result['startup_ms']:.0f} ms vs minimal "
          f"{result['minimal_ms']:.0f} ms → ratio {result['startup_ratio']:.2f}× (target ≤ 1.20×)")
    print(f"tools/list payload: {result['tools_list_bytes']} bytes ≈ {result['tools_list_tokens_approx']} tokens")
    print(json.dumps(result))
