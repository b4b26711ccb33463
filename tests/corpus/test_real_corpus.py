"""The real invoice corpus is in the repository, complete and unchanged since it was copied in."""

from __future__ import annotations

import hashlib
import json

from tests.corpus import REAL_INVOICES


def test_every_pdf_has_its_expected_values_and_its_recorded_checksum():
    sums = dict(reversed(line.split("  ", 1)) for line in (REAL_INVOICES / "SHA256SUMS").read_text().splitlines())
    pdfs = sorted(p.name for p in REAL_INVOICES.glob("*.pdf"))
    assert pdfs == sorted(sums), "SHA256SUMS and the PDFs in the folder disagree"
    assert len(pdfs) == 5
    for name in pdfs:
        pdf = REAL_INVOICES / name
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == sums[name], f"{name} was modified"
        expected = json.loads(pdf.with_suffix(".expected.json").read_text())
        assert {"issuer", "invoice_number", "date", "amount", "currency"} <= expected.keys(), name


def test_readme_names_the_source_and_licence_of_each_file():
    readme = (REAL_INVOICES / "README.md").read_text()
    assert "MIT" in readme and "invoice-x/invoice2data" in readme
    for pdf in REAL_INVOICES.glob("*.pdf"):
        assert f"`{pdf.name}`" in readme, f"{pdf.name} has no provenance line in the README"
