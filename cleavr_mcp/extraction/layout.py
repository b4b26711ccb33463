"""Layout text: lines whose character columns follow the page's horizontal positions.

Both text backends (pypdf `extraction_mode="layout"`, pdfplumber `layout=True`) and the OCR path produce such text,
so one set of rules reads all three: a value is found to the right of its label on the same line, or in the same
column on the line(s) below (table headers, `Invoice Date:` above `03/20/2023`). A *cell* is a run of text
separated from its neighbours by two or more spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .parsing import Found

_CELL_RE = re.compile(r"\S+(?: \S+)*")
# How far (in columns) a value may start/end outside its label's span and still count as "below" it.
COLUMN_TOLERANCE = 3


@dataclass(frozen=True)
class Cell:
    start: int
    end: int
    text: str


@dataclass
class Line:
    text: str
    page: int
    index: int  # position in the whole document
    cells: list[Cell] = field(default_factory=list)

    @classmethod
    def build(cls, text: str, page: int, index: int) -> Line:
        text = text.rstrip()
        return cls(text, page, index, [Cell(m.start(), m.end(), m.group(0)) for m in _CELL_RE.finditer(text)])

    def cell_at(self, pos: int) -> Cell | None:
        for cell in self.cells:
            if cell.start <= pos < cell.end:
                return cell
        return None

    @property
    def blank(self) -> bool:
        return not self.cells


class Document:
    def __init__(self, pages: list[str]):
        self.lines: list[Line] = []
        for page_no, page_text in enumerate(pages):
            for raw in page_text.splitlines():
                self.lines.append(Line.build(_normalise(raw), page_no, len(self.lines)))
        self.page_count = len(pages)
        self.text = "\n".join(line.text for line in self.lines)
        self._present: dict[re.Pattern, bool] = {}

    def below(self, line: Line, max_lines: int = 2) -> Iterator[Line]:
        """The next non-blank lines of the same page (blank lines are skipped, at most `max_lines` returned)."""
        seen = 0
        for nxt in self.lines[line.index + 1 :]:
            if nxt.page != line.page:
                return
            if nxt.blank:
                continue
            yield nxt
            seen += 1
            if seen >= max_lines:
                return

    def search(self, pattern: re.Pattern) -> Iterator[tuple[Line, re.Match]]:
        # Most labels of six languages are absent from a given invoice: one pass over the whole text (in C)
        # rules them out before the per-line loop.
        if pattern not in self._present:
            # MULTILINE so that `^` / `$` anchor at line ends, as in the per-line search (a whole-text match that
            # spans lines only costs the loop below, which then finds nothing).
            whole = re.compile(pattern.pattern, pattern.flags | re.MULTILINE)
            self._present[pattern] = whole.search(self.text) is not None
        if not self._present[pattern]:
            return
        for line in self.lines:
            for m in pattern.finditer(line.text):
                yield line, m


def _normalise(raw: str) -> str:
    # Tabs and exotic spaces become plain spaces so column arithmetic holds; NBSPs inside amounts are kept by the
    # amount regex, so they are not needed here.
    return raw.replace("\t", "    ").replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")


Finder = Callable[[str], list[Found]]


def overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return min(a1, b1) - max(a0, b0)


def values_below(
    doc: Document, line: Line, span: tuple[int, int], finder: Finder, *, rows: int = 1
) -> list[tuple[Line, Found]]:
    """Values under `span` (a label's columns): the first non-blank line below must hold one (a label above its
    value, a table header above its first row); with `rows` > 1 the column is read down while consecutive rows
    keep a value there (a table of invoices)."""
    out: list[tuple[Line, Found]] = []
    lo, hi = span[0] - COLUMN_TOLERANCE, span[1] + COLUMN_TOLERANCE
    blanks = 0
    for nxt in doc.lines[line.index + 1 :]:
        if nxt.page != line.page:
            break
        if nxt.blank:
            blanks += 1
            if blanks > MAX_BLANKS_BETWEEN_ROWS:
                break
            continue
        blanks = 0
        best: tuple[int, Found] | None = None
        for found in finder(nxt.text):
            ov = overlap(lo, hi, found.start, found.end)
            if ov > 0 and (best is None or ov > best[0]):
                best = (ov, found)
        if best is None:
            if any(overlap(lo, hi, c.start, c.end) > 0 for c in nxt.cells):
                break  # something else sits in the column: the value is not there
            # Nothing in this column (a line of a neighbouring block interleaved by the layout): look further.
            blanks += 1
            if blanks > MAX_BLANKS_BETWEEN_ROWS:
                break
            continue
        out.append((nxt, best[1]))
        if len(out) >= rows:
            break
    return out


# Layout text renders vertical space as blank lines: a label and its value, or two table rows, are at most this
# many blank lines apart.
MAX_BLANKS_BETWEEN_ROWS = 2
