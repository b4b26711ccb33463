"""`make bench`: every benchmark in one run, one table; the table is also written to benchmarks/RESULTS.md and the raw
figures to benchmarks/results.json.

Each row is a ratio measured side by side in this run (machines here are noisy: absolute figures are context),
with its target where the issue sets one. Options: --quick (smaller counts, for a smoke run), --no-ocr (skip the
scanned-PDF cases of the extraction benchmark), --skip NAME (repeatable).

    .venv/bin/python benchmarks/run_all.py [--quick] [--no-ocr] [--skip memory]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))


def extraction_figures(no_ocr: bool) -> dict:
    """Accuracy and speed of the default extraction backend (from benchmarks/extraction.py's own functions)."""
    import importlib.util

    # Loaded under another name: `extraction` is also the tests' package that benchmarks/extraction.py imports.
    spec = importlib.util.spec_from_file_location("bench_extraction", HERE / "extraction.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)

    test, tune = ex.load_split("test"), ex.load_split("real") + ex.load_split("tune")
    generated = ex.generate_corpus(ex.DEFAULT_SEED)
    text_cases = [(c.name, c.pdf, c.truth, ex.page_count(c.pdf)) for c in generated if not c.scanned]
    scan_cases = [(c.name, c.pdf, c.truth, ex.page_count(c.pdf)) for c in generated if c.scanned]
    test_scores, test_time = ex.run(test)
    tune_scores, tune_time = ex.run(tune)
    gen_scores, gen_time = ex.run(text_cases)

    def share(scores) -> tuple[int, int]:
        oks = ex.all_fields(scores)
        return sum(oks), len(oks)

    high = [ok for conf, ok in test_scores.calibration if conf >= ex.HIGH]
    pages = sum(c[3] for c in test + tune + text_cases)
    out = {"backend": ex.DEFAULT_BACKEND, "test_docs": len(test), "test_fields": share(test_scores),
           "test_high": (sum(high), len(high)), "tune_docs": len(tune), "tune_fields": share(tune_scores),
           "generated_docs": len(text_cases), "generated_fields": share(gen_scores),
           "pages_per_second": pages / (test_time + tune_time + gen_time)}
    if scan_cases and not no_ocr:
        scan_scores, scan_time = ex.run(scan_cases)
        out.update(scan_docs=len(scan_cases), scan_fields=share(scan_scores),
                   scan_seconds_per_page=scan_time / sum(c[3] for c in scan_cases))
    return out


def fmt_share(pair: tuple[int, int]) -> str:
    ok, total = pair
    return f"{ok}/{total} = {ok / total:.1%}" if total else "n/a"


def table(r: dict, quick: bool) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []  # (measure, ratio / result, target, absolute figures)
    if s := r.get("startup"):
        rows.append(("Start-up, spawn → tools/list over stdio vs a minimal one-tool MCPServer",
                     f"{s['startup_ratio']:.2f}×", "≤ 1.2×",
                     f"{s['startup_ms']:.0f} ms vs {s['minimal_ms']:.0f} ms (median of {s['runs']})"))
        rows.append(("… vs the minimal server given the same start-up GC treatment (weight of our code)",
                     f"{s['startup_ratio_same_gc']:.2f}×", "—", f"{s['minimal_same_gc_ms']:.0f} ms"))
    if p := r.get("payload"):
        biggest = list(p["per_tool_bytes"].items())[:3]
        rows.append(("tools/list payload, default toolset", f"{p['tools_list_bytes']:,} B ≈ {p['tools_list_tokens']:,} tokens",
                     "—", f"{p['tools']} tools, mean {p['bytes_per_tool_mean']:,.0f} B/tool; input schemas "
                     f"{p['input_schema_bytes']:,} B, output schemas {p['output_schema_bytes']:,} B; largest: "
                     + ", ".join(f"{n} {b:,} B" for n, b in biggest)))
    if k := r.get("context"):
        tok = k["tokenizer"] is not None
        def both(b, t):
            return f"{b:,} B" + (f" = {t:,} tokens" if tok else "")
        big = k["largest_shown"]
        rows.append(("Context: what a model is shown (name + description + inputSchema), all tools",
                     both(k["shown_bytes"], k["shown_tokens"]), f"≤ {k['budgets']['shown_bytes']:,} B",
                     f"{k['tools']} tools; largest {big} {k['per_tool'][big]['shown_bytes']:,} B (≤ "
                     f"{k['budgets']['shown_per_tool_bytes']:,} B); instructions "
                     f"{both(k['instructions_bytes'], k['instructions_tokens'])}; per tool: benchmarks/context_cost.py"))
        rows.append(("Context: output schemas, all tools", both(k["output_bytes"], k["output_tokens"]),
                     f"≤ {k['budgets']['output_bytes']:,} B", "cl100k via js-tiktoken" if tok else
                     "tokens not counted: bash .ci/npm_tools.sh"))
    if c := r.get("call_overhead"):
        rows.append(("Per-call: get_receivable via in-memory MCP client vs the same client call direct",
                     f"{c['call_overhead_ratio']:.2f}×", "≤ 1.4×",
                     f"{c['mcp_call_us']:.0f} µs vs {c['direct_call_us']:.0f} µs (+{c['overhead_us']:.0f} µs, median "
                     f"of {c['iterations']}); embedded in-process sandbox"))
        rows.append(("… same, without the Python client's outputSchema validation of the result",
                     f"{c['call_overhead_ratio_unvalidated']:.2f}×", "—",
                     f"{c['mcp_unvalidated_us']:.0f} µs; a tools/call doing no work on a bare MCPServer (the SDK's "
                     f"floor) costs {c['protocol_floor_us']:.0f} µs and validating one result "
                     f"{c['validation_us']:.0f} µs, so our own layer adds {c['server_layer_us']:.0f} µs"))
        rows.append(("… best any server could reach with this SDK and outputSchema (no layer of its own)",
                     f"{c['best_possible_ratio']:.2f}×", "—", "(direct + SDK floor + client validation) / direct"))
    if t := r.get("throughput"):
        sc = t["scenarios"]
        n = t["receivables"]
        for name, label in (("batch", "batch (100/call)"), ("single", "single calls"),
                            ("batch_faults", "batch, 20 % API faults"), ("single_faults", "single, 20 % API faults")):
            s = sc[name]
            rows.append((f"Throughput, {n:,} receivables, {label}, 8 in flight",
                         f"{s['per_second']:.0f}/s",
                         "exact count",
                         f"{s['seconds']:.1f} s, {s['calls']} tool calls, {s['errors_seen']} errors retried by the "
                         f"caller, sandbox count +{s['created']} ({'exact' if s['created'] == n else 'MISMATCH'})"))
        rows.append(("Throughput ratio batch / single (no faults)", f"{t['batch_vs_single']:.1f}×", "—",
                     f"faults cost: single {t['faults_cost_single']:.2f}× the time, batch {t['faults_cost_batch']:.2f}×"))
    if e := r.get("extraction"):
        rows.append((f"Extraction accuracy, held-out invoices never tuned on ({e['test_docs']} PDFs), `{e['backend']}`",
                     fmt_share(e["test_fields"]), "—", "fields right / fields in tests/corpus/invoices/test/*.expected.json"))
        rows.append(("Extraction calibration: held-out fields reported at ≥ 0.9 that are right", fmt_share(e["test_high"]),
                     "≥ 98 %", "benchmarks/extraction.py prints the whole table (confidence bucket → share right)"))
        rows.append((f"Extraction accuracy, tune split ({e['tune_docs']} PDFs: real/ + tune/)", fmt_share(e["tune_fields"]),
                     "—", "the rules were adjusted on these"))
        rows.append((f"Extraction accuracy, generated text PDFs ({e['generated_docs']})", fmt_share(e["generated_fields"]),
                     "—", f"{e['pages_per_second']:.1f} pages/s (text layer, whole extract_invoice, all three sets)"))
        if "scan_fields" in e:
            rows.append((f"Extraction accuracy, generated scans via OCR ({e['scan_docs']})", fmt_share(e["scan_fields"]),
                         "—", f"{e['scan_seconds_per_page']:.1f} s/page (Tesseract fra+eng, 300 dpi)"))
    if w := r.get("extraction_worker"):  # benchmarks/extraction_worker.py
        rows.append(("PDF extraction in a limited worker process vs in a thread (one-page text invoice)",
                     f"{w['worker'] / w['thread']:.1f}×", "+ < 100 ms per call",
                     f"{w['thread'] * 1000:.0f} ms → {w['worker'] * 1000:.0f} ms; fixed cost of a worker "
                     f"{w['empty_worker'] * 1000:.0f} ms"))
    if m := r.get("memory"):
        rows.append((f"Memory, stdio server RSS growth over {m['calls']:,} calls (from the end of a 500-call warm-up)",
                     f"{m['rss_growth_after_warm']:+.1%}",
                     "< 10 %", f"idle {m['rss_idle_mb']:.0f} MB, after 500 calls {m['rss_warm_mb']:.0f} MB, after "
                     f"{m['calls']:,} {m['rss_end_mb']:.0f} MB; {m['calls_per_second']:.0f} calls/s, {m['errors']} errors"))
    soak_file = HERE / "soak_results.json"
    if soak_file.exists():
        k = json.loads(soak_file.read_text())
        errors = {o: n for o, n in k["outcomes"].items() if o != "ok"}
        rows.append((f"Soak (`make soak`, {k.get('when', '?')}): {k['calls']:,} tool calls over streamable HTTP, "
                     f"{k.get('clients', 8)} clients, 20 % API faults",
                     "PASS" if k["passed"] else "FAIL", "all calls clean, exact count, RSS < +10 %",
                     f"{k['seconds']:.0f} s ({k['calls_per_second']} calls/s); {k['outcomes'].get('ok', 0):,} ok, clear "
                     f"errors {errors}; {k['distinct_invoices_submitted']:,} invoices submitted, sandbox "
                     f"+{k['sandbox_receivables_created']:,}, {k['replays_returned_same_receivable']:,} repeats answered "
                     f"with the same receivable, {k['in_doubt']} in doubt; server RSS {k['rss_mb']['after_warmup']} → "
                     f"{k['rss_mb']['end']} MB ({k['rss_growth_after_warmup']:+.1%})"))
    if quick:
        rows.append(("(quick run: reduced counts)", "", "", ""))
    return rows


NOTES = """
How to read it:
- **Start-up** spawns a fresh `cleavr-mcp serve` (stdio, embedded sandbox) and a minimal one-tool `MCPServer`, interleaved,
  and times spawn → initialize → tools/list. `serve` keeps the garbage collector off while it builds its ~150k
  long-lived objects and freezes them afterwards; the second row compares against a minimal server given the same
  treatment, i.e. the weight of our own imports and schemas. Before the start-up work (commit ec1b597, measured
  side by side with the same harness on a quiet machine) the first ratio was 1.41× (1,219 ms vs 863 ms); after it
  1.02× (884 ms): lazy `cleavr_mcp.cleavr` exports, client/auth/jwt/cryptography/phonenumbers/stdnum/email_validator
  imported on first use, and no GC passes during start-up.
- **Per-call overhead** compares one `get_receivable` through the in-memory MCP client with the same `CleavrClient`
  call, both against the in-process sandbox (~1 ms per API call, so the MCP layer weighs heavily; against a real
  API tens of ms away the ratio tends to 1). The second row removes the Python SDK client's JSON-Schema validation
  of the result against our outputSchema: the difference is what the client spends on our output schema. The third
  is the floor: the SDK's own cost of a tools/call on a bare MCPServer plus that validation, with no server layer
  at all; above 1.4× it means the ≤ 1.4× target needs SDK changes (see "Per-call overhead" in RESULTS.md).
- **Throughput**: the server in-process, the sandbox in its own process over HTTP (real OAuth, retries,
  idempotency keys); 8 tool calls in flight; a human who accepts every confirmation. Errors whose next step says
  a retry is safe are retried with the same arguments, as a model would; the sandbox's own count afterwards equals
  the receivables asked for (no duplicate, none lost).
- **Memory**: RSS of the stdio server process (`/proc/<pid>/status`), mixed read tools, 8 in flight.
- **Soak**: three processes (sandbox with 20 % faults, `serve --transport http`, 8 clients half on each protocol era);
  see benchmarks/soak.py for the pass criteria. `make soak` refreshes that row.
"""


def render(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| Measure | Result | Target | Absolute figures |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-ocr", action="store_true")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["startup", "payload", "context", "call_overhead", "throughput", "extraction", "extraction_worker", "memory"])
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    q = args.quick
    results: dict[str, dict] = {}
    timings: dict[str, float] = {}

    def step(name: str, fn) -> None:
        if name in args.skip:
            return
        print(f"… {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        results[name] = fn()
        timings[name] = time.perf_counter() - started

    import call_overhead
    import context_cost
    import extraction_worker
    import memory
    import payload
    import startup
    import throughput

    runs = 3 if q else 9

    def run_startup() -> dict:
        return {**anyio.run(startup.main, runs), "runs": runs}

    step("startup", run_startup)
    step("payload", lambda: anyio.run(payload.measure))
    step("context", lambda: anyio.run(context_cost.measure))
    step("call_overhead", lambda: anyio.run(call_overhead.measure, 200 if q else 2000))
    step("throughput", lambda: anyio.run(throughput.measure, 200 if q else 1000))
    step("extraction", lambda: extraction_figures(args.no_ocr or q))
    step("extraction_worker", lambda: anyio.run(extraction_worker.measure, 5 if q else 20))
    step("memory", lambda: anyio.run(memory.measure, 1000 if q else 10_000))

    rows = table(results, q)
    text = render(rows)
    print(text)
    print("\nseconds per benchmark: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), file=sys.stderr)
    if not args.no_write and not q and not args.skip:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        head = (f"# Benchmark results\n\nLatest `make bench` ({stamp}, commit {commit}, Python "
                f"{platform.python_version()}, {platform.machine()}, {_cpus()} CPUs). Ratios are measured side by "
                "side in the same run; absolute figures depend on the machine and its load.\n\n")
        (HERE / "RESULTS.md").write_text(head + text + "\n" + NOTES)
        (HERE / "results.json").write_text(json.dumps({"when": stamp, "commit": commit, "results": results,
                                                       "seconds": timings}, indent=2, default=str) + "\n")
        print(f"\nwritten: {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
