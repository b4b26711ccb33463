"""What scoping `list_receivables` to a principal's creditors costs (#15, domain/scope.py), on the embedded sandbox.

A principal acting for one creditor lets the API filter (`user_id`); one acting for several reads the API's pages
in its order and keeps its own rows, so its cost grows with how thinly its rows are spread. Measured in one run,
interleaved, medians of a first page (limit 20) through the in-memory MCP client:
- `local`: every creditor (no scoping: the API's page as is);
- `one`: one creditor of ten (API-filtered);
- `two`: two creditors of ten, their rows spread through the list (read and filtered);
and the API pages each read, counted on the client.

    .venv/bin/python benchmarks/scoped_lists.py [--receivables 400] [--iterations 30]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CREDITORS = 10


async def run(receivables: int, iterations: int) -> dict[str, float]:
    from mcp import Client

    from cleavr_mcp.cleavr.client import CleavrClient
    from cleavr_mcp.config import Settings
    from cleavr_mcp.domain.tenancy import Principal, acting_as
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.testing import demo_user, embedded_admin, submission

    tmp = Path(tempfile.mkdtemp(prefix="cleavr-bench-scope-"))
    settings = Settings(_env_file=None, data_dir=tmp / "data", allowed_roots=[tmp])
    server = build_server(settings)
    middleware = server._lowlevel_server.middleware
    middleware[:] = [m for m in middleware if type(m).__name__ != "TenancyMiddleware"]  # the principal is ours
    admin = embedded_admin(settings)
    users = [demo_user(settings)]
    for i in range(CREDITORS - 1):
        user = await admin.post("/v1/users", {"email": f"bench{i}@platform.example"})
        await admin.post(f"/sandbox/users/{user['id']}/complete-onboarding", {})
        users.append(user["id"])
    for i in range(receivables):
        body = submission(users[i % CREDITORS], number=f"INV-BENCH-{i:05d}", phone="+33612345678")
        await admin.post("/v1/receivables", body, **{"Idempotency-Key": f"INV-BENCH-{i:05d}"})
        await anyio.sleep(0.012)  # under the sandbox's 100 requests a second
    await admin.aclose()

    pages = {"count": 0}
    original = CleavrClient.list_receivables

    async def counted(self, query):
        pages["count"] += 1
        return await original(self, query)

    CleavrClient.list_receivables = counted  # type: ignore[method-assign]
    principals = {"local": None, "one": Principal(name="one", user_ids=frozenset(users[:1])),
                  "two": Principal(name="two", user_ids=frozenset(users[:2]))}
    times: dict[str, list[float]] = {name: [] for name in principals}
    api_pages: dict[str, int] = {}
    async with Client(server) as local:  # in memory a request runs in the sender's context (acting_as below)
        for i in range(iterations):
            order = list(principals) if i % 2 == 0 else list(reversed(principals))
            for name in order:
                principal = principals[name]
                pages["count"] = 0
                start = time.perf_counter()
                if principal is None:
                    result = await local.call_tool("list_receivables", {"limit": 20})
                else:
                    with acting_as(principal):
                        result = await local.call_tool("list_receivables", {"limit": 20})
                times[name].append(time.perf_counter() - start)
                assert not result.is_error and len(result.structured_content["rows"]) == 20, result.content
                api_pages[name] = pages["count"]
                await anyio.sleep(0.03)  # under the sandbox's rate limit (not timed)
    CleavrClient.list_receivables = original  # type: ignore[method-assign]
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name in principals:
        print(f"{name:>6}: {medians[name] * 1000:7.2f} ms median, {api_pages[name]} API page(s) read, "
              f"{medians[name] / medians['local']:.2f}x local")
    return {**{f"{k}_ms": v * 1000 for k, v in medians.items()}, **{f"{k}_pages": v for k, v in api_pages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receivables", type=int, default=400)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    anyio.run(run, args.receivables, args.iterations)


if __name__ == "__main__":
    main()
