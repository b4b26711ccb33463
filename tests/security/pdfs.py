"""Small PDFs built in the tests (no files from outside the repo)."""

from __future__ import annotations

import io


def blank_pdf(marker: str, width: float = 595, height: float = 842) -> bytes:
    """A valid one-page PDF whose bytes carry `marker` (in its metadata), so two of them are told apart."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=width, height=height)
    writer.add_metadata({"/Title": marker})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
