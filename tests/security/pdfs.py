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


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF written by hand: objects 1..n, a cross-reference table and a trailer whose root is object 1."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def huge_mediabox_pdf(side_pt: int = 14400) -> bytes:
    """~330 bytes: one empty page 5 m × 5 m (14,400 pt, the largest a PDF page may be): a scan, to be OCR'd."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % (side_pt, side_pt)])


def text_bomb_pdf(megabytes: int = 40) -> bytes:
    """A small PDF (Flate-compressed) whose content stream is `megabytes` of text operators: about a minute of
    CPU to lay out, in any text extractor."""
    import zlib

    op = b"BT /F1 9 Tf 1 0 0 1 72 700 Tm (Invoice 42 total due) Tj ET\n"
    packed = zlib.compress(op * (megabytes * 1024 * 1024 // len(op)), 9)
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"])


def nested_forms_pdf(levels: int = 7, fanout: int = 10) -> bytes:
    """A page that draws form 1 ten times, which draws form 2 ten times… `fanout ** levels` drawings from 2 KB. Its
    text is hidden in the forms, so extractors see a scan and the page is rasterised (every drawing rendered)."""
    font = 5 + levels + 1
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /XObject << /X0 5 0 R >> >> >>", _stream(b"q /X0 Do Q")]
    for k in range(levels):
        objects.append(_stream(b" ".join([b"q /X%d Do Q" % (k + 1)] * fanout),
                               b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] "
                               b"/Resources << /XObject << /X%d %d 0 R >> >>" % (k + 1, 5 + k + 1)))
    objects.append(_stream(b"BT /F1 12 Tf 72 720 Td (Total due) Tj ET",
                           b"/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >>"
                           % font))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return raw_pdf(objects)


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(content), extra) + content + b"\nendstream"
