"""Cheap, safe checks on a file before anything reads it for real (PDF invoices, PNG/JPEG evidence).

Used by the MCP tools (before uploading a local file) and by the sandbox (to answer `INVALID_FILE`). Each check is
as cheap as possible and runs in order of cost: size and magic bytes first, then pypdf opens only the trailer,
cross-reference table and page tree — content streams are never decoded, so a 50-page PDF is inspected in
milliseconds. Heavy libraries are imported inside the functions so importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 20 * MIB  # contract: > 20 MB → INVALID_FILE
DEFAULT_MAX_PAGES = 50
# Acrobat accepts a header anywhere in the first KiB (some generators prepend junk); we do the same.
_HEADER_WINDOW = 1024
# A complete PDF ends with %%EOF (possibly followed by a few bytes of whitespace or junk); its absence in the
# tail is the cheapest sign of a truncated download.
_EOF_WINDOW = 2048
# Pages probed for fonts when deciding whether the document has a text layer.
_TEXT_PROBE_PAGES = 5

Kind = Literal["pdf", "png", "jpeg"]
ReasonCode = Literal[
    "EMPTY", "TOO_LARGE", "NOT_PDF", "NOT_IMAGE", "CORRUPT", "ENCRYPTED", "TOO_MANY_PAGES", "OCR_UNAVAILABLE",
    "OCR_FAILED",
]


class InvalidFileError(ValueError):
    """The file cannot be used. `reason_code` is machine-readable; `message` is written for the end user."""

    def __init__(self, reason_code: ReasonCode | str, message: str):
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidFileError({self.reason_code!r}, {self.message!r})"


@dataclass(frozen=True)
class PdfInfo:
    pages: int
    encrypted: bool = False  # True only for PDFs that open without a password (owner-password restrictions)
    has_text_layer: bool = True  # False → a scan: text must come from OCR


@dataclass(frozen=True)
class ImageInfo:
    kind: Literal["png", "jpeg"]
    width: int
    height: int


def _human(n: int) -> str:
    return f"{n / MIB:.1f} MB" if n >= MIB else f"{n} bytes"


def sniff_kind(data: bytes) -> Kind | None:
    """The file type from its magic bytes only (never from a file name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if b"%PDF-" in data[:_HEADER_WINDOW]:
        return "pdf"
    return None


def _check_size(data: bytes, max_bytes: int, what: str) -> None:
    if not data:
        raise InvalidFileError("EMPTY", f"The {what} is empty (0 bytes).")
    if len(data) > max_bytes:
        raise InvalidFileError(
            "TOO_LARGE", f"The {what} is {_human(len(data))}, above the {_human(max_bytes)} limit."
        )


def _not_pdf_message(kind: Kind | None) -> str:
    if kind in ("png", "jpeg"):
        return f"The file is a {kind.upper()} image, not a PDF (a renamed file?). Export the invoice as PDF."
    return "The file is not a PDF: it does not start with the %PDF- header."


def inspect_pdf(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pages: int = DEFAULT_MAX_PAGES
) -> PdfInfo:
    """Check that `data` is a usable PDF; raise `InvalidFileError` naming the problem otherwise.

    Refused: empty, larger than `max_bytes`, not a PDF (magic bytes), truncated or unparseable, password-protected,
    more than `max_pages` pages.
    """
    _check_size(data, max_bytes, "PDF file")
    kind = sniff_kind(data)
    if kind != "pdf":
        raise InvalidFileError("NOT_PDF", _not_pdf_message(kind))
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        raise InvalidFileError(
            "CORRUPT", "The PDF is truncated or damaged (no end-of-file marker); download or export it again."
        )

    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        if encrypted:
            # Owner-password-only PDFs (print/copy restrictions) open with an empty user password: usable.
            if not reader.decrypt(""):
                raise InvalidFileError(
                    "ENCRYPTED",
                    "The PDF is password-protected. Remove the password (e.g. print it to a new PDF) and try again.",
                )
        declared = _declared_page_count(reader)
        if declared is not None and declared > max_pages:
            raise InvalidFileError("TOO_MANY_PAGES", _too_many(declared, max_pages))
        pages = len(reader.pages)  # walks the page tree only; content streams stay untouched
        if pages > max_pages:
            raise InvalidFileError("TOO_MANY_PAGES", _too_many(pages, max_pages))
        if pages == 0:
            raise InvalidFileError("CORRUPT", "The PDF has no pages.")
        has_text = any(_page_has_fonts(reader.pages[i]) for i in range(min(pages, _TEXT_PROBE_PAGES)))
    except InvalidFileError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        # pypdf signals damage with assorted exceptions; the detail is for logs, not for the user.
        raise InvalidFileError(
            "CORRUPT", f"The PDF cannot be read; it looks damaged ({type(exc).__name__})."
        ) from exc
    return PdfInfo(pages=pages, encrypted=encrypted, has_text_layer=has_text)


def _too_many(pages: int, max_pages: int) -> str:
    return f"The PDF has {pages} pages, above the {max_pages}-page limit. Send only the invoice pages."


def _declared_page_count(reader) -> int | None:
    try:
        count = reader.trailer["/Root"]["/Pages"]["/Count"]
        return int(count)
    except Exception:  # a broken /Count is not fatal: the page-tree walk decides
        return None


def _page_has_fonts(page) -> bool:
    """A page that declares fonts draws text; a scan declares only image XObjects. No content decoding."""
    resources = page.get("/Resources")
    if resources is None:
        return False
    resources = resources.get_object()
    fonts = resources.get("/Font")
    if fonts is not None and len(fonts.get_object()) > 0:
        return True
    # Text may live inside a form XObject (one level deep is the common case).
    xobjects = resources.get("/XObject")
    if xobjects is None:
        return False
    for ref in xobjects.get_object().values():
        xobj = ref.get_object()
        if xobj.get("/Subtype") == "/Form":
            inner = xobj.get("/Resources")
            if inner is not None and inner.get_object().get("/Font"):
                return True
    return False


def inspect_image(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageInfo:
    """Check that `data` is a PNG or JPEG image Pillow can verify; raise `InvalidFileError` otherwise."""
    _check_size(data, max_bytes, "image")
    kind = sniff_kind(data)
    if kind not in ("png", "jpeg"):
        what = "a PDF" if kind == "pdf" else "neither PNG nor JPEG"
        raise InvalidFileError("NOT_IMAGE", f"The file is {what}; evidence images must be PNG or JPEG.")

    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on decompression bombs; treat both as a damaged file.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = (img.format or "").lower()
                width, height = img.size
                img.verify()  # structure and checksums, without decoding every pixel
    except Exception as exc:
        raise InvalidFileError(
            "CORRUPT", f"The {kind.upper()} image cannot be read; it looks damaged ({type(exc).__name__})."
        ) from exc
    if fmt not in ("png", "jpeg"):
        raise InvalidFileError("NOT_IMAGE", f"The file claims to be {kind.upper()} but Pillow reads it as {fmt!r}.")
    return ImageInfo(kind=kind, width=width, height=height)
