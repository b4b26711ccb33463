"""The scan path around Tesseract: its absence is a clear error, OCR words keep their columns, rules are erased.

Tesseract itself runs in test_corpora.py::test_generated_corpus_including_scans_via_ocr (the generated scans).
"""

from __future__ import annotations

import io
import shutil

import pytest

from cleavr_mcp.extraction import InvalidFile, OcrUnavailable, extract_invoice
from cleavr_mcp.extraction.reading import remove_table_rules, tesseract_available, words_to_layout
from cleavr_mcp.pdfcheck import InvalidFileError
from tests.deps import require_tesseract


def test_tesseract_is_installed_here():
    """CI installs it (.ci/run) and sets CLEAVR_MCP_REQUIRE_SYSTEM_DEPS=1, so there this skip is a failure."""
    require_tesseract()
    assert shutil.which("tesseract") and tesseract_available()


def test_scan_without_tesseract_is_a_clear_error(generated, monkeypatch, tmp_path):
    scan = next(c for c in generated if c.scanned)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: as on a machine without Tesseract
    assert not tesseract_available()
    with pytest.raises(OcrUnavailable) as info:
        extract_invoice(scan.pdf)
    assert isinstance(info.value, InvalidFile) and isinstance(info.value, InvalidFileError)
    assert info.value.reason_code == "OCR_UNAVAILABLE"
    assert "Tesseract" in info.value.message and "scanned" in info.value.message


def test_mixed_document_without_tesseract_reads_the_text_pages(generated, monkeypatch, tmp_path):
    from pypdf import PdfReader, PdfWriter

    text_case = next(c for c in generated if not c.scanned and c.template == "fr_two_column")
    scan = next(c for c in generated if c.scanned)
    writer = PdfWriter()
    for data in (text_case.pdf, scan.pdf):
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = extract_invoice(buf.getvalue())
    assert result["pages"] == 2
    assert result["data"]["invoice"]["numbers"] == text_case.truth["invoice.numbers"]
    assert any("Pages 2 are scanned" in w["message"] for w in result["warnings"])


def test_ocr_words_keep_their_columns():
    data = {
        "text": ["Invoice", "Date:", "Due", "Date:", "03/20/2023", "04/04/2023", "Total", "$", "279.84"],
        "left": [100, 230, 700, 780, 100, 700, 100, 900, 930],
        "top": [100, 102, 101, 100, 150, 151, 400, 401, 400],
        "width": [120, 80, 60, 80, 160, 160, 80, 15, 100],
        "height": [30, 30, 30, 30, 30, 30, 30, 30, 30],
        "conf": [95, 95, 95, 95, 90, 90, 96, 80, 96],
    }
    lines = words_to_layout(data).splitlines()
    assert lines[0].split() == ["Invoice", "Date:", "Due", "Date:"]
    assert lines[1].index("03/20/2023") == lines[0].index("Invoice")
    assert lines[1].index("04/04/2023") == lines[0].index("Due")
    assert "" in lines[2:-1]  # a big vertical gap stays a gap: blocks do not run into each other
    assert lines[-1].split() == ["Total", "$", "279.84"]


def test_table_rules_are_erased_and_text_kept():
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 300), 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 580, 280), outline=0, width=3)  # a table border
    draw.line((20, 150, 580, 150), fill=0, width=2)
    for x in range(60, 500, 40):  # "glyphs": short strokes
        draw.rectangle((x, 60, x + 12, 90), fill=0)
    cleaned = remove_table_rules(image)
    assert cleaned.getpixel((300, 21)) == 255 and cleaned.getpixel((21, 100)) == 255
    assert cleaned.getpixel((300, 150)) == 255
    assert cleaned.getpixel((66, 75)) == 0 and cleaned.getpixel((106, 75)) == 0
