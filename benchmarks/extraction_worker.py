"""Per-call cost of reading a PDF in a limited worker process (cleavr_mcp.limits) instead of a thread.

    python benchmarks/extraction_worker.py [--calls 20]

Same run, same one-page text invoice, calls interleaved (thread, worker, thread, worker…) after a warm-up that
starts the forkserver: the median wall time of `extract_invoice` in a thread (what the server did before) and in
`run_limited` (fork from the preloaded forkserver, limits, pickling both ways, reaping), their ratio, and the fixed
cost alone (a function that returns at once). The target: the worker adds well under the extraction itself.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio
import anyio.to_thread

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cleavr_mcp import limits  # noqa: E402
from cleavr_mcp.extraction import extract_invoice  # noqa: E402


def invoice_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in ["FACTURE N° F-2025-0042", "Date d'émission : 02/07/2025", "Date d'échéance : 01/08/2025",
                 "Facturé à :", "Debtor Corp", "12 rue de la Paix", "75002 Paris", "compta@debtor.example",
                 "Total HT : 1 000,00 €", "TVA 20 % : 200,00 €", "Total TTC : 1 200,00 €"]:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def timed(call) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def measure(calls: int) -> dict[str, float]:
    pdf = invoice_pdf()
    in_thread = lambda: anyio.to_thread.run_sync(extract_invoice, pdf)  # noqa: E731
    in_worker = lambda: limits.run_limited(extract_invoice, pdf, limits=limits.PDF_EXTRACTION,  # noqa: E731
                                           preload=limits.PDF_PRELOAD)
    empty_thread = lambda: anyio.to_thread.run_sync(abs, -1)  # noqa: E731
    empty_worker = lambda: limits.run_limited(abs, -1, preload=limits.PDF_PRELOAD)  # noqa: E731
    for call in (in_thread, in_worker, empty_worker):  # warm-up: imports, the forkserver's start
        await call()
    times: dict[str, list[float]] = {"thread": [], "worker": [], "empty_thread": [], "empty_worker": []}
    for _ in range(calls):
        times["thread"].append(await timed(in_thread))
        times["worker"].append(await timed(in_worker))
        times["empty_thread"].append(await timed(empty_thread))
        times["empty_worker"].append(await timed(empty_worker))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    m = anyio.run(measure, args.calls)
    ms = {k: v * 1000 for k, v in m.items()}
    print(f"extract_invoice, one-page text PDF, median of {args.calls} interleaved calls:")
    print(f"  in a thread           {ms['thread']:8.1f} ms")
    print(f"  in a limited worker   {ms['worker']:8.1f} ms   ratio worker/thread {m['worker'] / m['thread']:.2f}×")
    print(f"  fixed cost of a worker (empty function): {ms['empty_worker']:.1f} ms "
          f"(thread: {ms['empty_thread']:.2f} ms); added per extraction: {ms['worker'] - ms['thread']:+.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
