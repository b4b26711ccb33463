"""extract_pdf and evidence file input: allowed roots, symlinks, bad files — each refused clearly, nothing uploaded."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from tests.corpus import REAL_INVOICES

from .conftest import client, demo_user

pytestmark = pytest.mark.anyio
CORPUS = REAL_INVOICES


def extraction_count(settings) -> int:
    with sqlite3.connect(settings.sandbox_db_path) as db:
        return db.execute("SELECT COUNT(*) FROM extractions").fetchone()[0]


def invoice_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"  # € and accents in the core font
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for line in ["FACTURE N° F-2025-0042", "Date d'émission : 02/07/2025", "Date d'échéance : 01/08/2025",
                 "Facturé à :", "Debtor Corp", "12 rue de la Paix", "75002 Paris", "compta@debtor.example",
                 "Total HT : 1 000,00 €", "TVA 20 % : 200,00 €", "Total TTC : 1 200,00 €"]:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def _extract(server, settings, file: dict, mode: str = "auto"):
    async with client(server, mode) as c:
        return await c.call_tool("extract_pdf", {"user_id": demo_user(settings), "file": file})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_extract_from_a_path_inside_an_allowed_root(server, settings, mode):
    path = settings.allowed_roots[0] / "facture.pdf"
    path.write_bytes(invoice_pdf())
    result = await _extract(server, settings, {"path": str(path)}, mode)
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["extraction_id"].startswith("ext_")
    assert out["draft"]["invoice"]["numbers"] == ["F-2025-0042"]
    assert out["draft"]["invoice"]["amount"] == "1200.00"
    assert out["draft"]["extraction_id"] == out["extraction_id"]
    assert out["text_excerpt"]["untrusted"] is True and out["text_excerpt"]["source"] == "pdf"
    assert "submit_receivable" in out["next_step"]
    assert extraction_count(settings) == 1


async def test_extract_from_base64_and_file_uri(server, settings):
    data = invoice_pdf()
    b64 = await _extract(server, settings, {"content_base64": base64.b64encode(data).decode(), "filename": "f.pdf"})
    assert not b64.is_error, b64.content
    path = settings.allowed_roots[0] / "uri.pdf"
    path.write_bytes(data)
    uri = await _extract(server, settings, {"uri": path.as_uri()})
    assert not uri.is_error, uri.content
    assert extraction_count(settings) == 2


async def test_real_invoice_from_the_corpus(server, settings):
    target = settings.allowed_roots[0] / "free_fiber.pdf"
    target.write_bytes((CORPUS / "free_fiber.pdf").read_bytes())
    result = await _extract(server, settings, {"path": str(target)})
    assert not result.is_error, result.content
    assert result.structured_content["draft"]["invoice"]["numbers"] == ["562044387"]


def _encrypted_pdf() -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(invoice_pdf())))
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _cases(root: Path, outside: Path) -> dict[str, tuple[dict, str]]:
    (outside / "secret.pdf").write_bytes(invoice_pdf())
    (root / "escape.pdf").symlink_to(outside / "secret.pdf")
    (root / "folder.pdf").mkdir()
    (root / "image.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (root / "locked.pdf").write_bytes(_encrypted_pdf())
    (root / "empty.pdf").write_bytes(b"")
    (root / "huge.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024 + 10))
    return {
        "traversal": ({"path": str(root / ".." / "outside" / "secret.pdf")}, "PATH_NOT_ALLOWED"),
        "symlink escape": ({"path": str(root / "escape.pdf")}, "PATH_NOT_ALLOWED"),
        "relative": ({"path": "secret.pdf"}, "PATH_NOT_ALLOWED"),
        "directory": ({"path": str(root / "folder.pdf")}, "NOT_A_FILE"),
        "missing": ({"path": str(root / "nope.pdf")}, "FILE_NOT_FOUND"),
        "png renamed .pdf": ({"path": str(root / "image.pdf")}, "INVALID_FILE_NOT_PDF"),
        "encrypted": ({"path": str(root / "locked.pdf")}, "INVALID_FILE_ENCRYPTED"),
        "empty": ({"path": str(root / "empty.pdf")}, "INVALID_FILE_EMPTY"),
        "oversized": ({"path": str(root / "huge.pdf")}, "TOO_LARGE"),
        "url": ({"uri": "https://example.com/invoice.pdf"}, "URL_NOT_ALLOWED"),
        "bad base64": ({"content_base64": "not base64!!"}, "BAD_BASE64"),
        "two sources": ({"path": str(root / "a.pdf"), "content_base64": "AAAA"}, "VALIDATION_ERROR"),
    }


async def test_unsafe_or_bad_files_are_refused_and_nothing_is_uploaded(server, settings, tmp_path):
    root = settings.allowed_roots[0]
    outside = tmp_path / "outside"
    outside.mkdir()
    # the allowed root is tmp/docs; "outside" is its sibling, reachable by ../outside
    assert (root / ".." / "outside").resolve() == outside.resolve()
    for name, (file, code) in _cases(root, outside).items():
        result = await _extract(server, settings, file)
        assert result.is_error, name
        text = result.content[0].text
        assert code in text, (name, text)
        assert "Next step:" in text, name
    assert extraction_count(settings) == 0


async def test_refusal_lists_the_allowed_roots(server, settings, tmp_path):
    other = tmp_path / "elsewhere.pdf"
    other.write_bytes(invoice_pdf())
    result = await _extract(server, settings, {"path": str(other)})
    assert result.is_error and str(settings.allowed_roots[0]) in result.content[0].text
