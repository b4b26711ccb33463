"""pdfcheck: every way a file can be unusable is refused with its own reason and a message a user can act on."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from cleavr_mcp.pdfcheck import (
    ImageInfo,
    InvalidFileError,
    PdfInfo,
    inspect_image,
    inspect_pdf,
    sniff_kind,
)


def _pdf(pages: int = 1, text: str = "Facture n° 1") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for i in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(0, 10, f"{text} page {i + 1}")
    return bytes(pdf.output())


def _png(size=(8, 8)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, format="PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buf, format="JPEG")
    return buf.getvalue()


def _encrypted(user_password: str, owner_password: str | None = None, algorithm: str | None = None) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf())))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _refused(data: bytes, reason: str, **kwargs) -> InvalidFileError:
    with pytest.raises(InvalidFileError) as info:
        inspect_pdf(data, **kwargs)
    assert info.value.reason_code == reason, info.value
    assert info.value.message and str(info.value) == info.value.message
    return info.value


def test_a_normal_pdf_passes_with_page_count_and_text_layer(real_cases):
    assert inspect_pdf(_pdf(3)) == PdfInfo(pages=3, encrypted=False, has_text_layer=True)
    for name, data, _ in real_cases:
        info = inspect_pdf(data)
        assert info.has_text_layer and info.pages >= 1, name


def test_a_scan_has_no_text_layer(generated):
    scan = next(c for c in generated if c.scanned)
    assert inspect_pdf(scan.pdf).has_text_layer is False


def test_empty():
    assert "empty" in _refused(b"", "EMPTY").message


def test_png_renamed_pdf_is_named_as_such():
    err = _refused(_png(), "NOT_PDF")
    assert "PNG image, not a PDF" in err.message


def test_random_bytes_are_not_a_pdf():
    assert "%PDF-" in _refused(b"hello, I am a text file\n" * 10, "NOT_PDF").message


def test_truncated_download():
    data = _pdf(2)
    assert "truncated" in _refused(data[: len(data) // 2], "CORRUPT").message


def test_garbage_behind_a_pdf_header():
    _refused(b"%PDF-1.7\n" + b"\x00garbage" * 200 + b"\n%%EOF\n", "CORRUPT")


def test_password_protected_is_refused():
    for algorithm in (None, "AES-256"):
        err = _refused(_encrypted("secret", algorithm=algorithm), "ENCRYPTED")
        assert "password" in err.message


def test_owner_password_only_opens_and_is_flagged():
    info = inspect_pdf(_encrypted("", "owner-secret", "AES-128"))
    assert info.encrypted is True and info.pages == 1


def test_too_many_pages():
    err = _refused(_pdf(51), "TOO_MANY_PAGES")
    assert "51 pages" in err.message and "50" in err.message
    assert inspect_pdf(_pdf(50)).pages == 50
    _refused(_pdf(3), "TOO_MANY_PAGES", max_pages=2)


def test_too_large_by_limit():
    data = _pdf()
    err = _refused(data, "TOO_LARGE", max_bytes=len(data) - 1)
    assert "limit" in err.message
    assert inspect_pdf(data, max_bytes=len(data)).pages == 1


def test_content_streams_are_not_parsed():
    """The check stays cheap: a PDF whose page content is garbage still passes (the extractor deals with it)."""
    data = _pdf()
    marker = b"stream\n"
    start = data.index(marker) + len(marker)
    end = data.index(b"endstream", start)
    broken = data[:start] + b"\xff" * (end - start - 1) + data[end - 1 :]
    assert len(broken) == len(data)
    assert inspect_pdf(broken).pages == 1


def test_sniff_kind():
    assert sniff_kind(_pdf()) == "pdf"
    assert sniff_kind(_png()) == "png"
    assert sniff_kind(_jpeg()) == "jpeg"
    assert sniff_kind(b"GIF89a....") is None
    assert sniff_kind(b"") is None


def test_images_for_evidence():
    assert inspect_image(_png((20, 10))) == ImageInfo("png", 20, 10)
    assert inspect_image(_jpeg()).kind == "jpeg"
    with pytest.raises(InvalidFileError) as err:
        inspect_image(_pdf())
    assert err.value.reason_code == "NOT_IMAGE" and "PDF" in err.value.message
    with pytest.raises(InvalidFileError) as err:
        inspect_image(_png()[:30])
    assert err.value.reason_code == "CORRUPT"
    with pytest.raises(InvalidFileError) as err:
        inspect_image(b"")
    assert err.value.reason_code == "EMPTY"
    with pytest.raises(InvalidFileError) as err:
        inspect_image(_png(), max_bytes=10)
    assert err.value.reason_code == "TOO_LARGE"


def test_importing_stays_light():
    """The MCP server imports these modules at start-up: no PDF, image or OCR library may load with them."""
    code = (
        "import sys, cleavr_mcp.pdfcheck, cleavr_mcp.extraction\n"
        "heavy = {'pypdf', 'pdfplumber', 'pypdfium2', 'pytesseract', 'PIL', 'fpdf', 'pdfminer'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
