"""Imported once by the PDF workers' forkserver (see `limits.PDF_PRELOAD`), never by the server itself.

It reads a tiny invoice once, so the lazy imports and first-use set-up of pypdf and of the extractor (compiled
patterns, layout code) happen in the forkserver and every forked worker inherits them: measured 61 ms for a first
extraction in a fresh process against 3.5 ms for the next one. A failure here only means colder workers.
"""

from __future__ import annotations

import contextlib


def _tiny_invoice() -> bytes:
    text = (b"BT /F1 11 Tf 72 780 Td 14 TL (FACTURE N\\260 F-2025-0001) ' (Date : 02/07/2025) ' "
            b"(Echeance : 01/08/2025) ' (Total HT : 1 000,00 EUR) ' (TVA 20 % : 200,00 EUR) ' "
            b"(Total TTC : 1 200,00 EUR) ' (Debtor Corp, compta@debtor.example) ' ET")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


with contextlib.suppress(Exception):
    from .extraction import extract_invoice
    from .extraction.parsing import parse_worded_date

    extract_invoice(_tiny_invoice())
    parse_worded_date("7. Mai 2014")  # dateparser loads its language data on first use (~0.6 s): once, here
