"""500 receivables through a sandbox that fails 20 % of requests (5xx, 429, commit-then-drop), over real HTTP.

Exactly 500 receivables must exist afterwards, none twice, and every call must have either succeeded or raised a
clear CleavrError. The "caller" behaves like an LLM following the error messages: when an error says retrying the
same call is safe (retryable), it makes the same call again, in a new "tool call".

The client gets only 2 attempts per call here (the default is 4) so that both layers are exercised: faults the client
absorbs itself, and errors that reach the caller (including "outcome unknown" after a commit-then-drop) whose repeat
must be answered from the idempotency store rather than create a second receivable.
"""

from __future__ import annotations

import time
from collections import Counter

import anyio
import httpx2
import pytest

from cleavr_mcp.cleavr import CleavrError, CleavrTransportError, RetryPolicy
from cleavr_mcp.cleavr.models import ListReceivablesQuery

from .conftest import SandboxServer, connect, start_sandbox
from .helpers import receivable_request

pytestmark = pytest.mark.anyio

SUBMISSIONS = 500
CONCURRENCY = 8
CALLER_ATTEMPTS = 5  # tool calls the "LLM" makes for one invoice at most
FAULTS = {"fault_5xx_rate": 0.07, "fault_429_rate": 0.06, "fault_drop_rate": 0.07}  # 20 % in all


async def test_500_submissions_with_20_percent_faults(tmp_path, capsys):
    db, server = start_sandbox(tmp_path, fault_seed=20250801, **FAULTS)
    policy = RetryPolicy(max_attempts=2, base_delay=0.005, max_delay=0.05, total_budget=10.0)
    counts: Counter[str] = Counter()
    created: dict[str, str] = {}  # invoice number -> receivable id the caller was told
    limiter = anyio.CapacityLimiter(CONCURRENCY)
    started = time.monotonic()
    with server as base_url:
        from cleavr_mcp.sandbox.testing import demo_user_id, sandbox_credentials

        client_id, client_secret = sandbox_credentials(db)
        info = SandboxServer(base_url, db, client_id, client_secret, demo_user_id(db))
        limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with httpx2.AsyncClient(timeout=10, limits=limits) as http:
            api = await connect(info, tmp_path, retry=policy, http=http)
            baseline = (await api.stats())["receivables"]["total"]

            async def submit(i: int) -> None:
                number = f"FI-{i:04d}"
                req = receivable_request(user_id=info.demo_user, invoice__numbers=[number])
                async with limiter:
                    for _ in range(CALLER_ATTEMPTS):
                        try:
                            result = await api.client.submit_receivable(req)
                        except CleavrError as err:
                            # A clear error: a code, a message, and whether the same call may be repeated.
                            assert err.code and err.message and "Traceback" not in str(err)
                            assert err.code in {"SERVICE_UNAVAILABLE", "RATE_LIMITED", "TRANSPORT_ERROR"}, str(err)
                            if isinstance(err, CleavrTransportError):
                                assert err.outcome_unknown and "Retrying this same call is safe" in err.message
                            counts[f"error:{err.code}"] += 1
                            if not err.retryable:
                                raise
                            continue
                        counts["success"] += 1
                        counts["replayed"] += result.replayed
                        assert created.setdefault(number, result.value.id) == result.value.id
                        return
                    counts["gave_up"] += 1

            async with anyio.create_task_group() as tg:
                for i in range(SUBMISSIONS):
                    tg.start_soon(submit, i)

            await api.set_faults()  # faults off to count what exists
            stats = await api.stats()
            listed = [r async for r in api.client.iter_receivables(
                ListReceivablesQuery(user_id=info.demo_user, limit=100))]
    elapsed = time.monotonic() - started

    fault_numbers = [r for r in listed if r.invoice.numbers[0].startswith("FI-")]
    by_number = Counter(r.invoice.numbers[0] for r in fault_numbers)
    summary = (
        f"\nfault injection: {SUBMISSIONS} submissions, concurrency {CONCURRENCY}, faults {FAULTS}\n"
        f"  successes {counts['success']}, replays {counts['replayed']}, client retries {api.client.stats.retries}, "
        f"HTTP attempts {api.client.stats.requests}, caller-visible errors "
        f"{sum(v for k, v in counts.items() if k.startswith('error:'))} "
        f"{ {k[6:]: v for k, v in counts.items() if k.startswith('error:')} }, gave up {counts['gave_up']}\n"
        f"  receivables created {stats['receivables']['total'] - baseline}, distinct ids {len({r.id for r in fault_numbers})}, "
        f"in {elapsed:.1f} s"
    )
    with capsys.disabled():
        print(summary)

    assert counts["success"] == SUBMISSIONS and counts["gave_up"] == 0
    assert stats["receivables"]["total"] - baseline == SUBMISSIONS
    assert len(fault_numbers) == SUBMISSIONS and set(by_number.values()) == {1}  # none twice
    assert {r.invoice.numbers[0]: r.id for r in fault_numbers} == created  # what callers were told is what exists
    # the faults really happened, at both layers
    assert counts["replayed"] > 0 and api.client.stats.retries > 0
    assert sum(v for k, v in counts.items() if k.startswith("error:")) > 0
