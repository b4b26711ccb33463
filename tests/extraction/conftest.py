"""Shared, session-scoped fixtures: the generated corpus is built once, and each case is extracted once.

The OCR'd scans are kept in their own fixture, used by a single test, so a parallel run OCRs them only once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.corpus import REAL_INVOICES
from tests.deps import require_tesseract

from .generate import DEFAULT_SEED, Case, generate_corpus

REPO = Path(__file__).resolve().parents[2]
REAL_CORPUS = REAL_INVOICES


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> list[Case]:
    cases = generate_corpus(DEFAULT_SEED)
    out = tmp_path_factory.mktemp("generated-invoices")
    for case in cases:
        (out / f"{case.name}.pdf").write_bytes(case.pdf)
    (out / "truth.json").write_text(json.dumps({c.name: c.truth for c in cases}, default=str, indent=1))
    return cases


@pytest.fixture(scope="session")
def text_results(generated) -> dict[str, dict]:
    from cleavr_mcp.extraction import extract_invoice

    return {c.name: extract_invoice(c.pdf) for c in generated if not c.scanned}


@pytest.fixture(scope="session")
def scan_results(generated) -> dict[str, dict]:
    from cleavr_mcp.extraction import extract_invoice

    require_tesseract()
    return {c.name: extract_invoice(c.pdf) for c in generated if c.scanned}


@pytest.fixture(scope="session")
def real_cases() -> list[tuple[str, bytes, dict]]:
    pdfs = sorted(REAL_CORPUS.glob("*.pdf"))
    assert len(pdfs) == 5, f"the real corpus is expected in the repository at {REAL_CORPUS}"
    return [(p.stem, p.read_bytes(), json.loads(p.with_suffix(".expected.json").read_text())) for p in pdfs]
