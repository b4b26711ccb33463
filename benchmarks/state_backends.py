"""State backends: PostgreSQL against SQLite, as ratios measured in one run.

- per-call: the mean time of an MCP tool call that reads the state (list_events: two inbox queries) through the
  SDK's in-memory client, on a server whose state is SQLite (the default) or PostgreSQL;
- write throughput: 8 concurrent writers, each committing an audit row, a spent confirmation and an inbox event
  per iteration, for a fixed number of iterations.

PostgreSQL runs with its durable defaults (fsync on, synchronous commit) in a throwaway cluster on this machine;
SQLite in WAL mode with synchronous=NORMAL (the server's setting). Over a network, PostgreSQL adds its round trip.

    .venv/bin/python benchmarks/state_backends.py [--calls 300] [--writes 400]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def per_call_seconds(database_url: str, data_dir: Path, calls: int) -> float:
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server

    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url, poll_events=False)
    server = build_server(settings)
    async with Client(server) as client:
        for _ in range(20):  # warm-up: pool connections, imports, caches
            await client.call_tool("list_events", {"limit": 5})
        started = time.perf_counter()
        for _ in range(calls):
            result = await client.call_tool("list_events", {"limit": 5})
            assert not result.is_error, result.content
        return (time.perf_counter() - started) / calls


async def writes_per_second(database_url: str, iterations: int, writers: int = 8) -> float:
    from cleavr_mcp.events.store import EventInbox
    from cleavr_mcp.storage import open_database
    from cleavr_mcp.toolkit.store import ServerStore

    db = open_database(database_url)
    await db.open()
    store, inbox = ServerStore(db), EventInbox(db)

    async def writer(w: int) -> None:
        for i in range(iterations):
            await store.append_audit(tool="submit_receivable", environment="test", user_id="usr_clv_1",
                                     payload_sha256="0" * 64, confirmed_by="token", outcome="done")
            assert await store.spend_confirmation(f"n-{w}-{i}", "submit_receivable")
            await inbox.record(event_id=f"evt_b{w}_{i}", event_type="payment.received", body="{}", source="webhook")

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for w in range(writers):
            tg.start_soon(writer, w)
    elapsed = time.perf_counter() - started
    await db.close()
    return writers * iterations * 3 / elapsed


def measure(calls: int = 300, writes: int = 400) -> dict:
    from tests.deps import postgres_bindir
    from tests.pg import throwaway_cluster

    with tempfile.TemporaryDirectory(prefix="cleavr-state-bench-") as tmp, \
            throwaway_cluster(postgres_bindir(), durable=True) as pg:
        tmp_path = Path(tmp)
        sqlite_call = anyio.run(per_call_seconds, f"sqlite:///{tmp_path / 'calls.sqlite3'}", tmp_path / "a", calls)
        pg_call = anyio.run(per_call_seconds, pg.new_database("calls"), tmp_path / "b", calls)
        sqlite_writes = anyio.run(writes_per_second, f"sqlite:///{tmp_path / 'writes.sqlite3'}", writes)
        pg_writes = anyio.run(writes_per_second, pg.new_database("writes"), writes)
    return {
        "per_call_ms": {"sqlite": round(sqlite_call * 1000, 3), "postgresql": round(pg_call * 1000, 3)},
        "per_call_ratio_pg_over_sqlite": round(pg_call / sqlite_call, 2),
        "writes_per_second": {"sqlite": round(sqlite_writes), "postgresql": round(pg_writes)},
        "write_throughput_ratio_pg_over_sqlite": round(pg_writes / sqlite_writes, 2),
        "calls": calls, "write_iterations_per_writer": writes, "writers": 8,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--writes", type=int, default=400)
    args = parser.parse_args()
    result = measure(args.calls, args.writes)
    print(json.dumps(result, indent=2))
    print(f"\nstate backends: per call {result['per_call_ms']['postgresql']} ms (PostgreSQL) vs "
          f"{result['per_call_ms']['sqlite']} ms (SQLite) = {result['per_call_ratio_pg_over_sqlite']}x; writes "
          f"{result['writes_per_second']['postgresql']}/s vs {result['writes_per_second']['sqlite']}/s = "
          f"{result['write_throughput_ratio_pg_over_sqlite']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
