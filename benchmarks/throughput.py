"""Throughput: N receivables through MCP tools, in batches (`submit_receivables_batch`, 100 per call) and one by
one (`submit_receivable`), 8 calls in flight, without and with 20 % injected API faults.

The server runs in-process (in-memory MCP client whose human accepts every confirmation); the Cleavr API is the
sandbox in its own process over real HTTP (OAuth, retries, idempotency keys as in production). The caller behaves
like a model: an isError result whose code says a retry is safe is retried with the same arguments (at most 5
calls per item). After each scenario the faults are switched off and the sandbox's own count must equal the number
of distinct invoices submitted: zero duplicates, zero lost.

    .venv/bin/python benchmarks/throughput.py [--receivables 1000]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FAULTS_20, RETRYABLE, accept, error_code, is_clear_error, receivable_args, sandbox_process  # noqa: E402

CONCURRENCY = 8
CALLER_ATTEMPTS = 5
BATCH = 100


async def _scenario(client, sandbox, *, mode: str, prefix: str, n: int) -> dict:
    counts: Counter[str] = Counter()
    limiter = anyio.CapacityLimiter(CONCURRENCY)
    before = sandbox.receivable_count()

    async def call(tool: str, args: dict) -> bool:
        for _ in range(CALLER_ATTEMPTS):
            result = await client.call_tool(tool, args)
            counts["calls"] += 1
            if not result.is_error:
                out = result.structured_content
                assert out["status"] == "done", out
                if tool == "submit_receivables_batch":
                    bad = [r for r in out["results"] if r["outcome"] not in ("submitted", "already_submitted")]
                    assert not bad, bad
                return True
            code = error_code(result)
            counts[f"error:{code}"] += 1
            assert is_clear_error(result), result.content
            if code not in RETRYABLE:
                raise AssertionError(f"{tool}: not retryable: {result.content[0].text}")
        counts["gave_up"] += 1
        return False

    async def one(i: int) -> None:
        async with limiter:
            await call("submit_receivable", {"receivable": receivable_args(sandbox.demo_user, f"{prefix}-{i:05d}")})

    async def batch(start: int) -> None:
        items = [receivable_args(sandbox.demo_user, f"{prefix}-{i:05d}") for i in range(start, min(start + BATCH, n))]
        async with limiter:
            await call("submit_receivables_batch", {"receivables": items})

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        if mode == "batch":
            for start in range(0, n, BATCH):
                tg.start_soon(batch, start)
        else:
            for i in range(n):
                tg.start_soon(one, i)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "per_second": n / elapsed, "calls": counts["calls"],
            "errors_seen": sum(v for k, v in counts.items() if k.startswith("error:")), "gave_up": counts["gave_up"],
            "created": None, "before": before}


async def measure(n: int = 1000) -> dict:
    from mcp import Client

    from cleavr_mcp.server.app import build_server

    logging.disable(logging.WARNING)  # measure the server, not the log console
    results: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="cleavr-throughput-") as tmp:
            with sandbox_process(Path(tmp)) as sandbox:
                server = build_server(sandbox.server_settings(Path(tmp) / "data"))
                async with Client(server, elicitation_callback=accept) as client:
                    for faults in (False, True):
                        for mode in ("batch", "single"):
                            name = f"{mode}{'_faults' if faults else ''}"
                            sandbox.set_faults(fault_seed=20261121, **FAULTS_20) if faults else sandbox.set_faults()
                            r = await _scenario(client, sandbox, mode=mode, prefix=f"TP-{name}", n=n)
                            sandbox.set_faults()
                            r["created"] = sandbox.receivable_count() - r.pop("before")
                            r["duplicates_or_lost"] = r["created"] != n
                            results[name] = r
    finally:
        logging.disable(logging.NOTSET)
    return {"receivables": n, "concurrency": CONCURRENCY, "scenarios": results,
            "batch_vs_single": results["batch"]["per_second"] / results["single"]["per_second"],
            "faults_cost_single": results["single"]["seconds"] and
            results["single_faults"]["seconds"] / results["single"]["seconds"],
            "faults_cost_batch": results["batch_faults"]["seconds"] / results["batch"]["seconds"],
            "all_exact": all(r["created"] == n and not r["gave_up"] for r in results.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receivables", type=int, default=1000)
    args = parser.parse_args()
    r = anyio.run(measure, args.receivables)
    for name, s in r["scenarios"].items():
        print(f"{name:14s} {r['receivables']} receivables in {s['seconds']:6.1f} s = {s['per_second']:7.1f}/s  "
              f"tool calls {s['calls']:5d}  errors retried {s['errors_seen']:4d}  gave up {s['gave_up']}  "
              f"sandbox count +{s['created']}")
    print(f"batch vs single: {r['batch_vs_single']:.1f}×; with 20 % faults single takes {r['faults_cost_single']:.2f}× "
          f"as long, batch {r['faults_cost_batch']:.2f}×; exact counts (no duplicate, none lost): {r['all_exact']}")


if __name__ == "__main__":
    main()
