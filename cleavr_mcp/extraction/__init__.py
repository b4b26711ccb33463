"""The invoice PDF extractor: a product part (domain layer). The sandbox's `POST /v1/receivables/ocr` answers
with it, and the server's second reading checks Cleavr's OCR answer against it.

    from cleavr_mcp.extraction import extract_invoice, InvalidFile, OcrUnavailable
    result = extract_invoice(pdf_bytes)   # dict: confidence, data{invoice, debtor}, missing_fields, warnings,
                                          #       field_confidence, raw_text, pages
    Extraction.model_validate({"extraction_id": "ext_…", **result})

Raises `InvalidFile` (= `cleavr_mcp.pdfcheck.InvalidFileError`, with `.reason_code`) for files that are not usable
PDFs, and `OcrUnavailable` (a subclass, reason `OCR_UNAVAILABLE`) for a scan when Tesseract is not installed.
Importing this package is cheap: pypdf, pdfplumber, pypdfium2 and pytesseract load on first use.
"""

from __future__ import annotations

from typing import Any

from cleavr_mcp.pdfcheck import InvalidFileError, inspect_pdf

from .reading import DEFAULT_BACKEND, Backend

InvalidFile = InvalidFileError
MAX_OCR_PAGES = 10  # ~5 s per page on one core: beyond this a request would time out
# A page with fewer letters than this in its text layer is treated as a scan (a stamp or page number is not text).
MIN_LETTERS_PER_PAGE = 20

__all__ = ["extract_invoice", "InvalidFile", "OcrUnavailable", "DEFAULT_BACKEND"]


class OcrUnavailable(InvalidFileError):
    def __init__(self, message: str | None = None):
        super().__init__(
            "OCR_UNAVAILABLE",
            message
            or "This PDF is a scanned image with no text layer; reading it needs OCR, and Tesseract is not installed "
            "on the server with French and English data (apt-get install tesseract-ocr tesseract-ocr-fra "
            "tesseract-ocr-eng). "
            "Send a PDF exported from the invoicing software instead, or enter the invoice fields by hand.",
        )


def extract_invoice(pdf_bytes: bytes, *, backend: Backend = DEFAULT_BACKEND) -> dict[str, Any]:
    """Read an invoice PDF and return the draft receivable the OCR endpoint answers (without `extraction_id`)."""
    from .extract import extract_from_pages
    from .reading import ocr_pages, read_text_pages, tesseract_available

    info = inspect_pdf(pdf_bytes)
    try:
        pages = read_text_pages(pdf_bytes, backend)
    except Exception as exc:  # the structure passed inspect_pdf but the text cannot be decoded
        raise InvalidFileError("CORRUPT", f"The PDF's text cannot be read; it looks damaged ({type(exc).__name__}).") from exc
    scanned = [i for i, page in enumerate(pages) if sum(ch.isalpha() for ch in page) < MIN_LETTERS_PER_PAGE]
    notes: list[dict[str, Any]] = []
    used_ocr = False
    if scanned:
        if not tesseract_available():
            if len(scanned) == len(pages):
                raise OcrUnavailable()
            notes.append(_note(f"Pages {_pages(scanned)} are scanned images and were not read (Tesseract missing)"))
        else:
            todo, skipped = scanned[:MAX_OCR_PAGES], scanned[MAX_OCR_PAGES:]
            try:
                ocr_texts = ocr_pages(pdf_bytes, page_indices=todo)
            except InvalidFileError:  # PAGE_TOO_LARGE: already says what to do
                raise
            except RuntimeError as exc:  # pytesseract's timeout
                raise InvalidFileError("OCR_FAILED", "OCR of the scanned pages timed out; send a text PDF.") from exc
            except Exception as exc:
                raise InvalidFileError(
                    "OCR_FAILED", f"The scanned pages could not be OCR'd ({type(exc).__name__}); send a text PDF."
                ) from exc
            for index, text in zip(todo, ocr_texts):
                pages[index] = text
            used_ocr = True
            if skipped:
                notes.append(_note(f"Only the first {MAX_OCR_PAGES} scanned pages were OCR'd; {_pages(skipped)} skipped"))
    result = extract_from_pages(pages, ocr=used_ocr)
    result["warnings"].extend(notes)
    result["pages"] = info.pages
    return result


def _note(message: str) -> dict[str, Any]:
    return {"field": "raw_text", "message": message, "extracted_value": None}


def _pages(indices: list[int]) -> str:
    return ", ".join(str(i + 1) for i in indices)
