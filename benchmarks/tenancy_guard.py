"""The tenancy guard's cost per tool call, as ratios measured in one run.

The same call — get_receivable, and a submit-shaped argument tree walked by the guard — through the SDK's
in-memory client on the embedded sandbox, as:
- the local principal (every creditor: the guard is skipped, no walk, no lookup);
- a principal for one creditor, the receivable's owner already cached (the steady state: owners never change);
- the same principal with the in-process cache emptied before every call (the owner read from the server store,
  as on a replica that has not seen the id yet; Cleavr itself is asked once per id ever).

And the argument walk alone on a 50-row submit_receivables_batch, against json.dumps of the same arguments.

    .venv/bin/python benchmarks/tenancy_guard.py [--calls 200]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def measure(calls: int) -> dict[str, float]:
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.domain.tenancy import Principal, acting_as
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.tenancy import named_ids
    from cleavr_mcp.testing import demo_user, embedded_admin, submission

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data", poll_events=False)
        server = build_server(settings)
        admin = embedded_admin(settings)
        owner = demo_user(settings)
        rec = await admin.post("/v1/receivables", submission(owner, number="INV-BENCH-1", amount="10.00",
                                                             phone="+33612345678"), **{"Idempotency-Key": "b1"})
        await admin.aclose()
        scoped = Principal(name="bench", user_ids=frozenset({owner}), source="principals-file")
        args = {"receivable_id": rec["id"]}

        async def timed(client, principal, *, clear_cache: bool = False) -> float:
            with acting_as(principal):
                started = time.perf_counter()
                for _ in range(calls):
                    if clear_cache:
                        server.owners._cache.clear()  # the owner then comes from the server store
                    result = await client.call_tool("get_receivable", args)
                    assert not result.is_error, result.content
                return (time.perf_counter() - started) / calls

        from cleavr_mcp.domain.tenancy import LOCAL

        runs: dict[str, list[float]] = {"local": [], "cached": [], "store": []}
        async with Client(server) as client:
            await timed(client, LOCAL)  # warm-up: imports, the sandbox, the client's connection
            await timed(client, scoped)
            for _ in range(5):  # interleaved rounds, medians: the machine is shared
                runs["local"].append(await timed(client, LOCAL))
                runs["cached"].append(await timed(client, scoped))
                runs["store"].append(await timed(client, scoped, clear_cache=True))
        local, cached, store = (statistics.median(runs[k]) for k in ("local", "cached", "store"))
        tree = {"receivables": [submission(owner, number=f"INV-{i}", amount="1.00") for i in range(50)]}
        started = time.perf_counter()
        for _ in range(200):
            named_ids(tree)
        walk = (time.perf_counter() - started) / 200
        started = time.perf_counter()
        for _ in range(200):
            json.dumps(tree)  # the yardstick: serialising the same arguments once
        dumps = (time.perf_counter() - started) / 200
    return {"local_ms": round(local * 1000, 3), "scoped_cached_ms": round(cached * 1000, 3),
            "scoped_cached_ratio": round(cached / local, 3), "scoped_store_hit_ratio": round(store / local, 3),
            "walk_50_row_batch_us": round(walk * 1e6, 1), "walk_vs_json_dumps_ratio": round(walk / dumps, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    logging.disable(logging.INFO)
    print(json.dumps(anyio.run(measure, parser.parse_args().calls), indent=2))


if __name__ == "__main__":
    main()
