"""Start-up cost: spawn → initialize → tools/list over stdio, cleavr-mcp vs a minimal one-tool MCPServer.

Both are started the same way (a fresh Python process, stdio), interleaved, median of N runs; prints the ratio
(target ≤ 1.2×) and the size of the tools/list payload. Absolute times are for context only (noisy machines).

`cleavr-mcp serve` switches the garbage collector off during start-up and freezes what it built (cli.py /
server/main.py). So that the ratio cannot hide behind that, a third contender is measured: the same minimal server
with the same GC treatment; `startup_ratio_same_gc` compares like with like (the weight of our own code).
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

MINIMAL_SAME_GC = "import gc\ngc.disable()\n" + MINIMAL.replace("mcp.run()", "gc.freeze()\ngc.enable()\nmcp.run()")


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
    same_gc_file = tmp / "minimal_same_gc.py"
    same_gc_file.write_text(MINIMAL_SAME_GC)
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp / "data")}
    env.pop("CLEAVR_MCP_BASE_URL", None)
    ours = StdioServerParameters(command=sys.executable, args=["-m", "cleavr_mcp.cli", "serve"], env=env, cwd=str(tmp))
    minimal = StdioServerParameters(command=sys.executable, args=[str(minimal_file)], env=env, cwd=str(tmp))
    same_gc = StdioServerParameters(command=sys.executable, args=[str(same_gc_file)], env=env, cwd=str(tmp))
    await one_run(ours)  # warm the OS file cache (and seed the sandbox database) before measuring
    await one_run(minimal)
    await one_run(same_gc)
    t_ours, t_min, t_same, size = [], [], [], 0
    for i in range(runs):
        contenders = [("ours", ours), ("min", minimal), ("same", same_gc)]
        for name, params in contenders if i % 2 == 0 else contenders[::-1]:  # alternate the order
            elapsed, n = await one_run(params)
            {"ours": t_ours, "min": t_min, "same": t_same}[name].append(elapsed)
            if name == "ours":
                size = n
    return {
        "startup_ratio": statistics.median(t_ours) / statistics.median(t_min),
        "startup_ratio_same_gc": statistics.median(t_ours) / statistics.median(t_same),
        "startup_ms": statistics.median(t_ours) * 1000,
        "minimal_ms": statistics.median(t_min) * 1000,
        "minimal_same_gc_ms": statistics.median(t_same) * 1000,
        "tools_list_bytes": size,
        "tools_list_tokens_approx": size // 4,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    result = anyio.run(main, parser.parse_args().runs)
    print(f"start-up (spawn→tools/list, median): cleavr-mcp {result['startup_ms']:.0f} ms vs minimal "
          f"{result['minimal_ms']:.0f} ms → ratio {result['startup_ratio']:.2f}× (target ≤ 1.20×); vs the minimal "
          f"server with the same GC treatment {result['minimal_same_gc_ms']:.0f} ms → {result['startup_ratio_same_gc']:.2f}×")
    print(f"tools/list payload: {result['tools_list_bytes']} bytes ≈ {result['tools_list_tokens_approx']} tokens")
    print(json.dumps(result))
