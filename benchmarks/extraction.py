"""Invoice extraction benchmark: field accuracy and speed on the real and the generated corpus.

    python benchmarks/extraction.py            # everything (≈ 1 min, most of it OCR of the scanned cases)
    python benchmarks/extraction.py --no-ocr   # text-layer cases only
    python benchmarks/extraction.py --repeat 5 # more timing runs (the best run is reported)

Prints, for the default text backend, the accuracy of every field on each corpus, then the text-backend comparison
(pypdf vs pdfplumber, layout and plain modes) measured in the same run: accuracy on both corpora, pages per second
and the speed ratio to pypdf. Reproducible: the generated corpus is seeded (tests/extraction/generate.py) and the
real corpus is tests/corpus/invoices/real.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL_CORPUS = REPO / "tests" / "corpus" / "invoices" / "real"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from extraction.generate import DEFAULT_SEED, generate_corpus  # noqa: E402
from extraction.scoring import compare, real_truth  # noqa: E402

from cleavr_mcp.extraction import DEFAULT_BACKEND, extract_invoice  # noqa: E402

BACKENDS = ("pypdf", "pdfplumber", "pypdf-plain", "pdfplumber-plain")


def load_real() -> list[tuple[str, bytes, dict, int]]:
    from pypdf import PdfReader

    cases = []
    for pdf in sorted(REAL_CORPUS.glob("*.pdf")):
        data = pdf.read_bytes()
        expected = json.loads(pdf.with_suffix(".expected.json").read_text())
        cases.append((pdf.stem, data, real_truth(expected), len(PdfReader(pdf).pages)))
    return cases


def page_count(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def run(cases, backend: str, repeat: int) -> tuple[dict[str, list[bool]], float, int]:
    """Per-field results and the best wall time over `repeat` runs of the whole corpus."""
    per_field: dict[str, list[bool]] = defaultdict(list)
    best = float("inf")
    pages = sum(c[3] for c in cases)
    for attempt in range(repeat):
        start = time.perf_counter()
        results = [extract_invoice(data, backend=backend) for _, data, _, _ in cases]
        best = min(best, time.perf_counter() - start)
        if attempt == 0:
            for (_, _, truth, _), result in zip(cases, results):
                for path, ok in compare(truth, result).items():
                    per_field[path].append(ok)
    return per_field, best, pages


def pct(oks: list[bool]) -> str:
    return f"{sum(oks)}/{len(oks)} ({100 * sum(oks) / len(oks):.1f} %)" if oks else "-"


def overall(per_field: dict[str, list[bool]]) -> list[bool]:
    return [ok for oks in per_field.values() for ok in oks]


def print_fields(title: str, per_field: dict[str, list[bool]]) -> None:
    print(f"\n{title}")
    print(f"  {'field':34s} {'right':>18s}")
    for path in sorted(per_field):
        print(f"  {path:34s} {pct(per_field[path]):>18s}")
    print(f"  {'ALL FIELDS':34s} {pct(overall(per_field)):>18s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-ocr", action="store_true", help="skip the scanned (OCR) cases")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per backend (best is kept)")
    args = parser.parse_args()

    real = load_real()
    generated = generate_corpus(DEFAULT_SEED)
    text_cases = [(c.name, c.pdf, c.truth, page_count(c.pdf)) for c in generated if not c.scanned]
    scan_cases = [(c.name, c.pdf, c.truth, page_count(c.pdf)) for c in generated if c.scanned]
    print(f"Real corpus: {len(real)} PDFs ({sum(c[3] for c in real)} pages) from {REAL_CORPUS}")
    print(f"Generated corpus: {len(generated)} PDFs, {sum(c[3] for c in text_cases + scan_cases)} pages "
          f"(seed {DEFAULT_SEED}), {len(scan_cases)} of them scans")

    comparison = {}
    for backend in BACKENDS:
        real_fields, real_time, real_pages = run(real, backend, args.repeat)
        gen_fields, gen_time, gen_pages = run(text_cases, backend, args.repeat)
        comparison[backend] = (real_fields, gen_fields, (real_pages + gen_pages) / (real_time + gen_time))

    real_fields, gen_fields, _ = comparison[DEFAULT_BACKEND]
    print_fields(f"Real corpus — default backend `{DEFAULT_BACKEND}` (fields present in *.expected.json)", real_fields)
    if scan_cases and not args.no_ocr:
        scan_fields, scan_time, scan_pages = run(scan_cases, DEFAULT_BACKEND, 1)
        gen_fields = {path: list(oks) for path, oks in gen_fields.items()}  # the comparison keeps text-only
        for path, oks in scan_fields.items():
            gen_fields[path] = gen_fields.get(path, []) + oks
        print_fields(f"Generated corpus — all {len(generated)} PDFs incl. {len(scan_cases)} scans via OCR", gen_fields)
        print(f"\nScanned cases alone (OCR, Tesseract fra+eng at 300 dpi): {pct(overall(scan_fields))}, "
              f"{scan_pages / scan_time:.2f} pages/s ({scan_time / scan_pages:.1f} s per page)")
    else:
        print_fields(f"Generated corpus — {len(text_cases)} text PDFs (OCR skipped)", gen_fields)

    base_speed = comparison["pypdf"][2]
    print("\nText backends (same parser on top; generated = text-layer PDFs only; speed = whole extract_invoice)")
    print(f"  {'backend':18s} {'real corpus':>18s} {'generated':>20s} {'pages/s':>9s} {'vs pypdf':>9s}")
    for backend, (r_fields, g_fields, speed) in comparison.items():
        marker = " ← default" if backend == DEFAULT_BACKEND else ""
        print(f"  {backend:18s} {pct(overall(r_fields)):>18s} {pct(overall(g_fields)):>20s} {speed:9.1f} "
              f"{speed / base_speed:8.2f}×{marker}")
    key = ("invoice.numbers", "invoice.issue_date", "invoice.amount", "invoice.currency")
    print("\nReal corpus, the four headline fields (target ≥ 4/5 each):")
    for backend, (r_fields, _, _) in comparison.items():
        print(f"  {backend:18s} " + "  ".join(f"{k.split('.')[1]} {sum(r_fields[k])}/{len(r_fields[k])}" for k in key))


if __name__ == "__main__":
    main()
