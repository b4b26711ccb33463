"""The soak (benchmarks/soak.py), scaled down: 500 tool calls over streamable HTTP from 8 concurrent clients (both
protocol eras) against a sandbox process injecting 20 % API faults, the server in its own process.

Every call ends in a success or a clear error, the sandbox's count equals the distinct submissions the clients were
told about (no duplicate, none lost, none in doubt), and the server's memory stays flat. `make soak` runs 10,000.
"""

from __future__ import annotations

import pytest

from .conftest import BENCHMARKS


@pytest.mark.slow
def test_500_calls_from_8_clients_with_faults(tmp_path):
    import importlib.util
    import sys

    sys.path.insert(0, str(BENCHMARKS))  # soak.py imports its sibling common.py
    try:
        spec = importlib.util.spec_from_file_location("cleavr_soak", BENCHMARKS / "soak.py")
        soak = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = soak
        spec.loader.exec_module(soak)
    finally:
        sys.path.remove(str(BENCHMARKS))
    report = soak.run_soak(500, 8, workdir=tmp_path)
    summary = report.summary()
    assert report.calls >= 500, summary
    assert not report.problems, summary["problems"]
    assert set(summary["outcomes"]) <= {"ok", "error:NOT_FOUND", "error:SERVICE_UNAVAILABLE", "error:RATE_LIMITED",
                                        "error:TRANSPORT_ERROR", "error:OUTCOME_UNKNOWN"}, summary["outcomes"]
    assert summary["outcomes"]["ok"] > 400
    assert len(report.submitted) > 100 and report.replays_ok > 30, summary
    assert report.sandbox_created == len(report.submitted) and not report.in_doubt, summary
    assert report.rss_growth < 0.10, summary["rss_mb"]
    assert report.passed
