"""The tune and held-out invoice splits: complete, unchanged since copied in, each file with its source and licence."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.corpus import REAL_INVOICES

INVOICES = REAL_INVOICES.parent


@pytest.mark.parametrize("split", ["tune", "test"])
def test_every_pdf_has_expected_values_a_checksum_and_a_provenance_line(split):
    folder = INVOICES / split
    sums = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    pdfs = sorted(p.name for p in folder.glob("*.pdf"))
    assert pdfs and pdfs == sorted(sums)
    readme = (folder / "README.md").read_text()
    for name in pdfs:
        pdf = folder / name
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == sums[name], f"{name} was modified"
        expected = json.loads(pdf.with_suffix(".expected.json").read_text())
        assert {"invoice_number", "amount"} & expected.keys(), name
        assert f"`{name}`" in readme, f"{name} has no provenance line in {split}/README.md"


def test_each_licence_named_in_the_readmes_is_carried():
    licences = {p.name for p in (INVOICES / "licences").iterdir()}
    text = (INVOICES / "tune" / "README.md").read_text() + (INVOICES / "test" / "README.md").read_text()
    for repo in ("invoice-x/invoice2data", "horstoeko/zugferd", "akretion/factur-x", "ZUGFeRD/mustangproject",
                 "stephanstapel/ZUGFeRD-csharp"):
        assert repo in text
        assert any(name.startswith(repo.replace("/", "_")) for name in licences), repo
