"""Memory: RSS of the stdio server (`cleavr-mcp serve`, embedded sandbox) idle, and after N tool calls.

Idle = after start-up and tools/list; "warm" = after the first 500 calls (caches, sandbox, token filled); then N calls
in all (a mix of get_receivable, list_receivables, quote_commission, 8 in flight on one stdio session). Growth from
warm to the end is what a leak would show.

    .venv/bin/python benchmarks/memory.py [--calls 10000]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import accept, child_pids, clean_env, receivable_args, rss_kb  # noqa: E402

WARM_CALLS = 500


async def measure(calls: int = 10_000, concurrency: int = 8) -> dict:
    from mcp import Client, StdioServerParameters

    from cleavr_mcp.config import Settings
    from cleavr_mcp.sandbox.testing import demo_user_id

    with tempfile.TemporaryDirectory(prefix="cleavr-memory-") as tmp:
        env = clean_env(CLEAVR_MCP_DATA_DIR=tmp)
        # The server logs each API request at INFO on stderr, as deployed; keep that out of the report.
        serve = f"exec {shlex.quote(sys.executable)} -m cleavr_mcp.cli serve 2>>{shlex.quote(tmp)}/server.log"
        params = StdioServerParameters(command="/bin/sh", args=["-c", serve], env=env, cwd=tmp)
        before = set(child_pids())
        async with Client(params, elicitation_callback=accept) as client:
            await client.list_tools()
            (pid,) = set(child_pids()) - before
            idle = rss_kb(pid)
            user = demo_user_id(Settings(_env_file=None, data_dir=Path(tmp)).sandbox_db_path)
            created = await client.call_tool("submit_receivable", {"receivable": receivable_args(user, "MEM-1")})
            assert not created.is_error, created.content
            rec_id = created.structured_content["receivable"]["id"]
            plan = [("get_receivable", {"receivable_id": rec_id}),
                    ("list_receivables", {"user_id": user, "limit": 5}),
                    ("quote_commission", {"amount": "5000.00", "days_overdue": 60})]
            done = 0
            errors = 0
            warm = 0

            async def worker(start: int, stop: int) -> None:
                nonlocal done, errors
                for i in range(start, stop):
                    tool, args = plan[i % len(plan)]
                    result = await client.call_tool(tool, args)
                    errors += result.is_error
                    done += 1

            started = time.perf_counter()
            for lo, hi in ((0, WARM_CALLS), (WARM_CALLS, calls)):
                step = (hi - lo + concurrency - 1) // concurrency
                async with anyio.create_task_group() as tg:
                    for k in range(concurrency):
                        tg.start_soon(worker, lo + k * step, min(lo + (k + 1) * step, hi))
                if lo == 0:
                    warm = rss_kb(pid)
            elapsed = time.perf_counter() - started
            end = rss_kb(pid)
    return {"calls": done, "errors": errors, "seconds": elapsed, "calls_per_second": done / elapsed,
            "rss_idle_mb": idle / 1024, "rss_warm_mb": warm / 1024, "rss_end_mb": end / 1024,
            "rss_growth_after_warm": (end - warm) / warm, "pid_checked": pid != os.getpid()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()
    r = anyio.run(measure, args.calls)
    print(f"stdio server RSS: idle {r['rss_idle_mb']:.1f} MB, after {WARM_CALLS} calls {r['rss_warm_mb']:.1f} MB, "
          f"after {r['calls']} calls {r['rss_end_mb']:.1f} MB (growth after warm-up {r['rss_growth_after_warm']:+.1%}); "
          f"{r['calls_per_second']:.0f} calls/s over stdio, {r['errors']} errors")


if __name__ == "__main__":
    main()
