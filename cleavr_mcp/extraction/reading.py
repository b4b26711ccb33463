"""Getting layout text out of a PDF: from its text layer, or by OCR when it is a scan.

Backend choice, by measurement (`python benchmarks/extraction.py`: same run, same parser on top, fields right on
the real corpus (30 asserted values in 5 PDFs) and on the 33 text-layer PDFs of the generated corpus (661 values),
pages per second for the whole `extract_invoice` on 2 shared cores):

    backend              real corpus        generated          pages/s (3 runs)   vs pypdf
    pypdf layout         30/30 (100 %)      661/661 (100 %)    25–49              1.00×   ← default
    pdfplumber layout    28/30 (93.3 %)     661/661 (100 %)    14–20              0.4–0.6×
    pypdf plain          19/30 (63.3 %)     653/661 (98.8 %)   27–49              0.9–1.7×
    pdfplumber plain     21/30 (70.0 %)     574/661 (86.8 %)   10–18              0.2–0.6×

Layout mode matters more than the library: values under their labels (`Invoice Date:` above `03/20/2023`, table
headers) need columns. Of the two layout backends pypdf is more accurate on the real corpus (pdfplumber splits
`Factuurnummer` into `F actuurnummer` on coolblue1.pdf) and 1.6–2.5× faster, so it is the default; the others stay
selectable for the benchmark. Heavy imports happen inside the functions so the MCP server starts fast.

Scans are rendered with pypdfium2 directly (what pdfplumber's `page.to_image` uses too; no poppler needed).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import statistics
import threading
from typing import Literal

Backend = Literal["pypdf", "pdfplumber", "pypdf-plain", "pdfplumber-plain"]
DEFAULT_BACKEND: Backend = "pypdf"
OCR_LANG = "fra+eng"
OCR_RESOLUTION = 300  # dpi: Tesseract's sweet spot for 9–11 pt invoice text
# Below this many letters per page a "text layer" is only page numbers or a scanner's stamp: treat as a scan.
MIN_TEXT_CHARS_PER_PAGE = 40


def read_text_pages(pdf_bytes: bytes, backend: Backend = DEFAULT_BACKEND) -> list[str]:
    """Text of each page, laid out in columns (or plain for the `-plain` backends, kept for comparison)."""
    if backend.startswith("pypdf"):
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(pdf_bytes), strict=False)
        if reader.is_encrypted:
            reader.decrypt("")
        mode = "plain" if backend.endswith("plain") else "layout"
        pages = []
        for page in reader.pages:
            try:
                pages.append(page.extract_text(extraction_mode=mode) or "")
            except Exception:  # one broken page must not sink the others; it reads as empty (→ OCR fallback)
                pages.append("")
        if mode == "layout":
            _refill_empty_layout_pages(pdf_bytes, pages)
        return pages
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
        layout = not backend.endswith("plain")
        return [(page.extract_text(layout=layout) or "") for page in pdf.pages]


class _DropLayoutModeNoise(logging.Filter):
    """pypdf's layout mode logs `Unbalanced target operations` for every text run of some ZUGFeRD visualisations
    (hundreds per page) before giving up on the page, which pdfplumber then reads: noise, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Unbalanced target operations" not in record.getMessage()


logging.getLogger("pypdf._text_extraction._layout_mode._fixed_width_page").addFilter(_DropLayoutModeNoise())


def _refill_empty_layout_pages(pdf_bytes: bytes, pages: list[str]) -> None:
    """pypdf's layout mode gives up on some content streams (unbalanced q/Q in ZUGFeRD visualisations) and returns
    nothing for a page that has a text layer: read those pages with pdfplumber's layout mode instead of OCR."""
    empty = [i for i, text in enumerate(pages) if not any(ch.isalpha() for ch in text)]
    if not empty:
        return
    import pdfplumber

    try:
        with pdfplumber.open(io.BytesIO(pdf_bytes)) as pdf:
            for i in empty:
                pages[i] = pdf.pages[i].extract_text(layout=True) or ""
    except Exception:  # the page stays empty and goes to OCR
        return


def text_layer_is_usable(pages: list[str]) -> bool:
    letters = sum(sum(ch.isalpha() for ch in page) for page in pages)
    return letters >= MIN_TEXT_CHARS_PER_PAGE * max(1, len(pages)) / 2


def tesseract_available(lang: str = OCR_LANG) -> bool:
    """The tesseract binary is on PATH and has the language data for `lang` (`fra+eng`)."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract

        installed = set(pytesseract.get_languages(config=""))
    except Exception:
        return False
    return set(lang.split("+")) <= installed


# A page's pixels are allocated before anything is read: cap them, or a 400-byte PDF whose page is 5 m wide asks
# for gigabytes. An A3 page at 300 dpi is 17 M pixels; 40 M still reads an A0 poster at 150 dpi.
MAX_PAGE_PIXELS = 40_000_000
MIN_OCR_RESOLUTION = 150  # dpi: below this Tesseract misreads 10 pt text, so a page needing less is refused


def render_scale(width_pt: float, height_pt: float, resolution: int, page_number: int) -> float:
    """PDFium's render scale for a page: `resolution` dpi, lowered to stay under MAX_PAGE_PIXELS, or refused."""
    from cleavr_mcp.pdfcheck import InvalidFileError

    scale = resolution / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale <= MAX_PAGE_PIXELS:
        return scale
    capped = (MAX_PAGE_PIXELS / area) ** 0.5
    if capped * 72 < MIN_OCR_RESOLUTION:
        raise InvalidFileError(
            "PAGE_TOO_LARGE", f"Page {page_number} is {width_pt / 72 * 2.54:.0f} × {height_pt / 72 * 2.54:.0f} cm, too "
            "large to scan for text (the limit is about A0). Send the invoice as exported by the invoicing software, "
            "or a scan of the A4 page, or enter its fields by hand.")
    return capped


# PDFium is not thread-safe and the sandbox extracts in worker threads: every pypdfium2 call holds this lock
# (rendering a page takes ~0.1 s; the OCR itself runs outside it).
_PDFIUM_LOCK = threading.Lock()
OCR_TIMEOUT_SECONDS = 120  # per page; a stuck Tesseract must not hold a request forever


def ocr_pages(
    pdf_bytes: bytes,
    *,
    page_indices: list[int] | None = None,
    resolution: int = OCR_RESOLUTION,
    lang: str = OCR_LANG,
) -> list[str]:
    """Render pages with pypdfium2 (no poppler needed) and OCR them with Tesseract into layout text."""
    import pypdfium2 as pdfium
    import pytesseract
    from PIL import ImageFilter

    # Tesseract's OpenMP threads spin-wait; on a busy machine (a server, parallel tests) one thread per process
    # is 2–3× faster (measured: 4 scanned pages 21 s → 8 s on 2 shared cores). pytesseract passes the
    # environment to the tesseract process; an explicit setting by the operator wins.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    pages = []
    with _PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf_bytes)
    try:
        for i in page_indices if page_indices is not None else range(len(doc)):
            with _PDFIUM_LOCK:
                page = doc[i]
                scale = render_scale(*page.get_size(), resolution, i + 1)
                image = page.render(scale=scale, grayscale=True).to_pil()
                page.close()
            # A 3×3 median removes scanner dust and toner specks that Tesseract would read as `|`, `:` or `'`;
            # erasing table rules stops Tesseract from dropping bordered tables as pictures. Measured on the
            # generated scans (80 fields): 63 right without either, 73 with the median, 75 with both.
            image = remove_table_rules(image.filter(ImageFilter.MedianFilter(3)))
            data = pytesseract.image_to_data(
                image, lang=lang, output_type=pytesseract.Output.DICT, timeout=OCR_TIMEOUT_SECONDS
            )
            pages.append(words_to_layout(data))
    finally:
        with _PDFIUM_LOCK:
            doc.close()
    return pages


RULE_MIN_PX = 60  # at 300 dpi ≈ 5 mm: longer than any letter stroke of body text, shorter than table borders


def remove_table_rules(image, min_length: int = RULE_MIN_PX):
    """Paint white over long horizontal and vertical lines (table borders), keeping the text.

    Without numpy: a BOX resize averages each run of `min_length` pixels along one axis; a run that is (almost)
    all ink is a rule, not a glyph. The mask is scaled back, thickened by one pixel and painted white.
    """
    from PIL import Image, ImageChops, ImageFilter

    width, height = image.size
    ink = image.point(lambda v: 255 if v < 140 else 0)
    horizontal = ink.resize((max(1, width // min_length), height), Image.Resampling.BOX)
    vertical = ink.resize((width, max(1, height // min_length)), Image.Resampling.BOX)
    solid = lambda v: 255 if v > 230 else 0  # noqa: E731
    mask = ImageChops.lighter(
        horizontal.point(solid).resize((width, height), Image.Resampling.NEAREST),
        vertical.point(solid).resize((width, height), Image.Resampling.NEAREST),
    ).filter(ImageFilter.MaxFilter(3))
    cleaned = image.copy()
    cleaned.paste(255, mask=mask)
    return cleaned


def words_to_layout(data: dict) -> str:
    """Tesseract word boxes → text whose columns follow the words' x positions, like the text backends' layout.

    Words are grouped into rows by vertical centre; a vertical gap larger than a line becomes a blank line so that
    address blocks stay separate, as they do in text-layer layout.
    """
    words = [
        (data["left"][i], data["top"][i], data["width"][i], data["height"][i], data["text"][i].strip())
        for i in range(len(data["text"]))
        if data["text"][i].strip() and float(data["conf"][i]) >= 0
    ]
    if not words:
        return ""
    heights = [h for *_, h, _ in words]
    line_height = statistics.median(heights)
    char_width = statistics.median(w / len(t) for _, _, w, _, t in words if len(t) >= 3) if any(
        len(t) >= 3 for *_, t in words
    ) else line_height / 2
    words.sort(key=lambda w: (w[1] + w[3] / 2, w[0]))
    rows: list[list[tuple]] = []
    centres: list[float] = []
    for word in words:
        centre = word[1] + word[3] / 2
        if rows and abs(centre - centres[-1]) <= line_height * 0.5:
            rows[-1].append(word)
            centres[-1] = statistics.mean(w[1] + w[3] / 2 for w in rows[-1])
        else:
            rows.append([word])
            centres.append(centre)
    lines: list[str] = []
    previous_centre = None
    for row, centre in zip(rows, centres):
        if previous_centre is not None and centre - previous_centre > line_height * 2.2:
            lines.append("")
        previous_centre = centre
        text = ""
        for left, _, _, _, token in sorted(row):
            column = round(left / char_width)
            if len(text) < column:
                text += " " * (column - len(text))
            elif text:
                text += " "
            text += token
        lines.append(text)
    return "\n".join(lines)
