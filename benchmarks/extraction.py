"""Invoice extraction benchmark: per-field accuracy, confidence calibration and speed, measured in one run.

    python benchmarks/extraction.py              # held-out test split, tune split, generated corpus (+ OCR scans)
    python benchmarks/extraction.py --no-ocr     # skip the scanned cases (the slow part)
    python benchmarks/extraction.py --backends   # also compare the text backends (pypdf / pdfplumber)
    python benchmarks/extraction.py --no-ocr --repeat 1 --check   # CI's short form: fails if calibration fails

Corpora (tests/corpus/invoices/): `test/` is held out - nobody tunes the extractor on it, so its figures are the
honest ones; `tune/` and `real/` are what the rules were adjusted on; the generated corpus is seeded
(tests/extraction/generate.py). Prints, for each: the share of fields right, field by field; then the calibration
table (confidence bucket → share of the reported fields that are right) on the test split and on everything not
tuned on, with the check that fields reported at ≥ 0.9 are right at least 98 % of the time; then pages per second
of the whole `extract_invoice` on the text PDFs (best of `--repeat` runs).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus" / "invoices"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from extraction.generate import DEFAULT_SEED, generate_corpus  # noqa: E402
from extraction.scoring import flatten, real_truth, same  # noqa: E402

from cleavr_mcp.extraction import DEFAULT_BACKEND, extract_invoice  # noqa: E402

BACKENDS = ("pypdf", "pdfplumber", "pypdf-plain", "pdfplumber-plain")
BUCKETS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01)]
HIGH, HIGH_TARGET = 0.9, 0.98

Case = tuple[str, bytes, dict, int]  # name, pdf, truth (contract paths), pages


def page_count(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def load_split(name: str) -> list[Case]:
    cases = []
    for pdf in sorted((CORPUS / name).glob("*.pdf")):
        data = pdf.read_bytes()
        expected = json.loads(pdf.with_suffix(".expected.json").read_text())
        cases.append((f"{name}/{pdf.stem}", data, real_truth(expected), page_count(data)))
    return cases


class Scores:
    """Per-field right/wrong, and (confidence, right) for every reported field that the truth asserts."""

    def __init__(self) -> None:
        self.fields: dict[str, list[bool]] = defaultdict(list)
        self.calibration: list[tuple[float, bool]] = []
        self.wrong: list[str] = []

    def add(self, name: str, truth: dict, result: dict) -> None:
        flat = flatten(result)
        confidence = result["field_confidence"]
        for path, expected in truth.items():
            ok = same(expected, flat.get(path))
            self.fields[path].append(ok)
            if not ok:
                self.wrong.append(f"{name}: {path} expected {expected!s} got {flat.get(path)!s}")
            conf_path = path if path in confidence else path.rsplit(".", 1)[0]  # address parts share one
            if flat.get(path) not in (None, "", []) and conf_path in confidence:
                self.calibration.append((confidence[conf_path], ok))

    def merged(self, other: Scores) -> Scores:
        out = Scores()
        for src in (self, other):
            for path, oks in src.fields.items():
                out.fields[path] += oks
            out.calibration += src.calibration
            out.wrong += src.wrong
        return out


def run(cases: list[Case], backend: str = DEFAULT_BACKEND) -> tuple[Scores, float]:
    scores = Scores()
    start = time.perf_counter()
    results = [extract_invoice(data, backend=backend) for _, data, _, _ in cases]
    elapsed = time.perf_counter() - start
    for (name, _, truth, _), result in zip(cases, results):
        scores.add(name, truth, result)
    return scores, elapsed


def pct(oks: list[bool]) -> str:
    return f"{sum(oks)}/{len(oks)} ({100 * sum(oks) / len(oks):.1f} %)" if oks else "-"


def all_fields(scores: Scores) -> list[bool]:
    return [ok for oks in scores.fields.values() for ok in oks]


def print_fields(title: str, scores: Scores) -> None:
    print(f"\n{title}")
    print(f"  {'field':34s} {'right':>18s}")
    for path in sorted(scores.fields):
        print(f"  {path:34s} {pct(scores.fields[path]):>18s}")
    print(f"  {'ALL FIELDS':34s} {pct(all_fields(scores)):>18s}")


def print_calibration(title: str, scores: Scores) -> bool:
    print(f"\n{title}")
    print(f"  {'confidence':12s} {'fields':>7s} {'right':>8s}")
    for lo, hi in BUCKETS:
        inside = [ok for conf, ok in scores.calibration if lo <= conf < hi]
        label = f"{lo:.2f}-{min(hi, 1.0):.2f}"
        share = f"{100 * sum(inside) / len(inside):.1f} %" if inside else "-"
        print(f"  {label:12s} {len(inside):7d} {share:>8s}")
    high = [ok for conf, ok in scores.calibration if conf >= HIGH]
    met = bool(high) and sum(high) / len(high) >= HIGH_TARGET
    print(f"  at ≥ {HIGH}: {pct(high)} right - target ≥ {HIGH_TARGET:.0%}: {'MET' if met else 'NOT MET'}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-ocr", action="store_true", help="skip the scanned (OCR) cases")
    parser.add_argument("--backends", action="store_true", help="also compare the text backends")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (the best is kept)")
    parser.add_argument("--show-wrong", action="store_true", help="list the wrong fields of the tune/generated sets")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless fields reported at >= 0.9 on the held-out split are right >= 98 %%")
    args = parser.parse_args()

    test, tune = load_split("test"), load_split("real") + load_split("tune")
    generated = generate_corpus(DEFAULT_SEED)
    text_cases = [(c.name, c.pdf, c.truth, page_count(c.pdf)) for c in generated if not c.scanned]
    scan_cases = [(c.name, c.pdf, c.truth, page_count(c.pdf)) for c in generated if c.scanned]
    print(f"Held-out test split: {len(test)} PDFs ({sum(c[3] for c in test)} pages), {CORPUS / 'test'}")
    print(f"Tune split: {len(tune)} PDFs ({sum(c[3] for c in tune)} pages), real/ and tune/")
    print(f"Generated corpus: {len(generated)} PDFs (seed {DEFAULT_SEED}), {len(scan_cases)} of them scans")

    test_scores, _ = run(test)
    tune_scores, _ = run(tune)
    gen_scores, _ = run(text_cases)
    print_fields("HELD-OUT TEST SPLIT (never tuned on)", test_scores)
    if test_scores.wrong:
        print("  wrong: " + "\n         ".join(test_scores.wrong))
    print_fields("Tune split (real/ + tune/: the rules were adjusted on these)", tune_scores)
    if scan_cases and not args.no_ocr:
        scan_scores, scan_time = run(scan_cases)
        print_fields(f"Generated corpus - {len(text_cases)} text PDFs + {len(scan_cases)} scans via OCR",
                     gen_scores.merged(scan_scores))
        scan_pages = sum(c[3] for c in scan_cases)
        print(f"  scans alone: {pct(all_fields(scan_scores))}, {scan_pages / scan_time:.2f} pages/s (OCR)")
    else:
        print_fields(f"Generated corpus - {len(text_cases)} text PDFs (OCR skipped)", gen_scores)
    if args.show_wrong:
        print("\n".join(["", "Wrong (tune + generated):", *tune_scores.wrong, *gen_scores.wrong]))

    met = print_calibration("Calibration on the held-out test split (confidence → share right)", test_scores)
    print_calibration("Calibration on the tune split", tune_scores)
    print_calibration("Calibration on the generated text PDFs", gen_scores)

    timed = test + tune + text_cases
    pages = sum(c[3] for c in timed)
    best = min(run(timed)[1] for _ in range(args.repeat))
    print(f"\nSpeed: {pages} text pages in {best:.2f} s = {pages / best:.1f} pages/s (whole extract_invoice, "
          f"best of {args.repeat}, backend {DEFAULT_BACKEND})")

    if args.backends:
        print("\nText backends (same parser on top; speed = whole extract_invoice on the same PDFs)")
        print(f"  {'backend':18s} {'test split':>18s} {'tune split':>18s} {'generated':>20s} {'pages/s':>9s}")
        for backend in BACKENDS:
            parts = [run(cases, backend) for cases in (test, tune, text_cases)]
            seconds = sum(t for _, t in parts)
            print(f"  {backend:18s} " + " ".join(f"{pct(all_fields(s)):>18s}" for s, _ in parts)
                  + f" {pages / seconds:9.1f}")
    print(f"\nCalibration target on the held-out split: {'MET' if met else 'NOT MET'}")
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
