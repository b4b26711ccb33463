"""Per-call overhead of MCP: `get_receivable` through an in-memory MCP client vs the same client call made directly.

Both use the same configuration against the embedded sandbox (in-process, ASGI, no sockets): the MCP path is
`Client(server).call_tool("get_receivable")` (protocol dispatch, argument validation, policy, result shaping and
output validation on top of the client call, plus the Python SDK client's own JSON-Schema validation of the
structured result against the tool's outputSchema); the direct path is `CleavrClient.get_receivable` from the same
`open_state(settings)` the server's lifespan uses. Interleaved call by call, order alternating; medians.
Target: ratio ≤ 1.4×. A third contender is the same MCP call with the client-side output validation switched off
(`mcp_unvalidated`): the difference between the two is what the client spends checking our outputSchema. And the
floor: a request that does no work (prompts/list), i.e. the SDK's own per-request cost.

    .venv/bin/python benchmarks/call_overhead.py [--iterations 1000]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


async def measure(iterations: int = 1000, warmup: int = 100) -> dict:
    from common import accept, receivable_args
    from mcp import Client

    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.toolkit.state import open_state

    logging.disable(logging.WARNING)  # measure the server, not the log console
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp))
            server = build_server(settings)
            async with (Client(server, elicitation_callback=accept) as mcp, Client(server) as unvalidated,
                        open_state(settings) as state):
                async def no_validation(name, result) -> None:
                    return None

                unvalidated.session.validate_tool_result = no_validation  # type: ignore[method-assign]
                from cleavr_mcp.sandbox.testing import demo_user_id

                user = demo_user_id(settings.sandbox_db_path)
                created = await mcp.call_tool("submit_receivable", {"receivable": receivable_args(user, "OVH-1")})
                assert not created.is_error, created.content
                rec_id = created.structured_content["receivable"]["id"]
                client = await state.client.get()

                async def via_mcp() -> None:
                    result = await mcp.call_tool("get_receivable", {"receivable_id": rec_id})
                    assert not result.is_error

                async def via_mcp_unvalidated() -> None:
                    result = await unvalidated.call_tool("get_receivable", {"receivable_id": rec_id})
                    assert not result.is_error

                async def floor() -> None:  # a request that does no work: the SDK's own round trip
                    await unvalidated.list_prompts()

                async def direct() -> None:
                    await client.get_receivable(rec_id)

                timings: dict[str, list[float]] = {"mcp": [], "mcp_unvalidated": [], "direct": [], "floor": []}
                contenders = [("mcp", via_mcp), ("mcp_unvalidated", via_mcp_unvalidated), ("direct", direct),
                              ("floor", floor)]
                gc.collect()
                for i in range(warmup + iterations):
                    for name, fn in contenders if i % 2 == 0 else contenders[::-1]:
                        t0 = time.perf_counter_ns()
                        await fn()
                        if i >= warmup:
                            timings[name].append((time.perf_counter_ns() - t0) / 1000)
    finally:
        logging.disable(logging.NOTSET)
    mcp_us, direct_us = statistics.median(timings["mcp"]), statistics.median(timings["direct"])
    unvalidated_us = statistics.median(timings["mcp_unvalidated"])
    return {"iterations": iterations, "mcp_call_us": mcp_us, "direct_call_us": direct_us,
            "mcp_unvalidated_us": unvalidated_us, "overhead_us": mcp_us - direct_us,
            "protocol_floor_us": statistics.median(timings["floor"]),
            "call_overhead_ratio": mcp_us / direct_us, "call_overhead_ratio_unvalidated": unvalidated_us / direct_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    args = parser.parse_args()
    r = anyio.run(measure, args.iterations)
    print(f"get_receivable, median of {r['iterations']} interleaved calls: MCP {r['mcp_call_us']:.0f} µs vs direct "
          f"{r['direct_call_us']:.0f} µs → {r['call_overhead_ratio']:.2f}× (+{r['overhead_us']:.0f} µs; target ≤ 1.4×)")
    print(f"  without the client's outputSchema validation: {r['mcp_unvalidated_us']:.0f} µs → "
          f"{r['call_overhead_ratio_unvalidated']:.2f}×; an empty request (prompts/list) takes {r['protocol_floor_us']:.0f} µs")


if __name__ == "__main__":
    main()
