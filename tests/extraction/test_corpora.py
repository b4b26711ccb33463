"""Accuracy on the real invoices (tests/corpus/invoices/real) and on the generated corpus (≥ 98 % of fields)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from cleavr_mcp.cleavr.models import Extraction
from cleavr_mcp.extraction import extract_invoice

from .scoring import compare, flatten, real_truth

GENERATED_TARGET = 0.98


@pytest.fixture(scope="module")
def real_results(real_cases):
    return [(name, extract_invoice(data), expected) for name, data, expected in real_cases]


def test_real_corpus_headline_fields_right_on_at_least_4_of_5(real_results):
    per_field: dict[str, list[bool]] = defaultdict(list)
    for _name, result, expected in real_results:
        for path, ok in compare(real_truth(expected), result).items():
            per_field[path].append(ok)
    for path in ("invoice.numbers", "invoice.issue_date", "invoice.amount", "invoice.currency"):
        assert len(per_field[path]) == 5
        assert sum(per_field[path]) >= 4, (path, per_field[path])
    # the other asserted values (due dates, HT, TVA) too, all but one at most
    others = [ok for path, oks in per_field.items() for ok in oks]
    assert sum(others) >= len(others) - 1


def test_real_results_are_valid_contract_extractions(real_results):
    for name, result, _ in real_results:
        extraction = Extraction.model_validate({"extraction_id": "ext_real0001", **result})
        assert extraction.pages == result["pages"] >= 1
        assert 0 <= extraction.confidence <= 1
        assert result["raw_text"], name


def test_real_corpus_debtor_is_never_the_issuer(real_results):
    issuers = {name: expected["issuer"].lower() for name, _, expected in real_results}
    for name, result, _ in real_results:
        company = (result["data"]["debtor"].get("company_name") or "").lower()
        assert not company or issuers[name] not in company, (name, company)


def test_generated_text_pdfs(generated, text_results):
    per_case = {c.name: compare(c.truth, text_results[c.name]) for c in generated if not c.scanned}
    fields = [ok for res in per_case.values() for ok in res.values()]
    wrong = {name: [p for p, ok in res.items() if not ok] for name, res in per_case.items() if not all(res.values())}
    assert sum(fields) / len(fields) >= GENERATED_TARGET, wrong
    assert len(per_case) >= 26 and len(fields) >= 500


def test_generated_corpus_including_scans_via_ocr(generated, text_results, scan_results):
    """The whole generated corpus, the ≥ 3 scanned PDFs read by Tesseract included, reaches ≥ 98 % of fields."""
    assert len(scan_results) >= 3
    fields: list[bool] = []
    scan_fields: list[bool] = []
    for case in generated:
        result = scan_results[case.name] if case.scanned else text_results[case.name]
        res = list(compare(case.truth, result).values())
        fields += res
        if case.scanned:
            scan_fields += res
            # the OCR path is flagged and still the contract's shape
            assert any(w["field"] == "raw_text" and "OCR" in w["message"] for w in result["warnings"])
            Extraction.model_validate({"extraction_id": "ext_scan0001", **result})
            assert result["data"]["invoice"]["numbers"] == case.truth["invoice.numbers"], case.name
            assert result["data"]["invoice"]["amount"] == case.truth["invoice.amount"], case.name
    assert sum(scan_fields) / len(scan_fields) >= 0.9, scan_fields
    assert sum(fields) / len(fields) >= GENERATED_TARGET


def test_generated_corpus_shape(generated):
    """The corpus covers what the extractor must handle."""
    assert len(generated) >= 30
    assert len({c.template for c in generated}) >= 7
    assert {c.language for c in generated} == {"fr", "en", "de", "nl", "es", "it"}
    assert {"fr_letter_long", "de_table", "de_window", "nl_table", "es_table", "it_table"} <= {c.template for c in generated}
    assert sum(c.scanned for c in generated) >= 3
    tags = [t for c in generated for t in c.tags]
    for tag in ("no_due", "no_email", "no_phone", "invalid_siret", "big"):
        assert tags.count(tag) >= 3, tag
    assert any(len(c.truth["invoice.numbers"]) > 1 for c in generated)


def test_generated_corpus_is_deterministic(generated):
    from .generate import DEFAULT_SEED, generate_corpus

    again = generate_corpus(DEFAULT_SEED)
    assert [c.pdf for c in again] == [c.pdf for c in generated]
    assert [c.truth for c in again] == [c.truth for c in generated]


def test_generated_warnings_and_missing_fields(generated, text_results):
    for case in generated:
        if case.scanned:
            continue
        result = text_results[case.name]
        warned = {w["field"] for w in result["warnings"]}
        assert case.expected_warnings <= warned, (case.name, result["warnings"])
        if "invalid_siret" not in case.tags:
            assert "debtor.siret" not in warned, case.name
        missing = set(result["missing_fields"])
        assert ("debtor.contacts[0].email" in missing) == ("no_email" in case.tags), case.name
        assert ("debtor.contacts[0].phone" in missing) == ("no_phone" in case.tags), case.name
        assert ("invoice.due_date" in missing) == ("no_due" in case.tags), case.name
        # A USD invoice is read fine (confidence stays high); the currency warning says Cleavr will refuse it.
        # A debtor found only by a convention (the window envelope's sender line) is a guess: never ≥ 0.8.
        if missing - {"debtor.contacts[0].phone"} or "debtor.siret" in case.expected_warnings \
                or "heuristic_debtor" in case.tags:
            assert result["confidence"] < 0.8, case.name
        else:
            assert result["confidence"] >= 0.8, (case.name, result["field_confidence"])


def test_multi_invoice_documents(generated, text_results):
    multi = [c for c in generated if len(c.truth["invoice.numbers"]) > 1 and not c.scanned]
    assert len(multi) >= 4
    for case in multi:
        flat = flatten(text_results[case.name])
        assert flat["invoice.numbers"] == case.truth["invoice.numbers"]
        assert flat["invoice.amount"] == case.truth["invoice.amount"]
