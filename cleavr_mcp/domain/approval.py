"""What a person is asked to approve, as typed data: the question's structure (title, labelled facts, notes, batch
rows, evidence files, the fields the person may fill in) and how any value is shown as data.

Titles, labels and notes are server text; values are data and are only ever rendered through `visible` (one line,
hidden characters shown as escapes): a value never adds a line, reorders the line it sits on (bidi overrides) or
hides part of itself (zero-width characters), so the question's structure always comes from the server.
Used by the tools (they build the view) and by the server's approval channels (elicitation message, page).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import asdict, dataclass

from ..cleavr.text import is_invisible  # the project's one definition of "invisible" (Unicode data)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(value: object, *, limit: int | None = None) -> str:
    """`value` as one visible line: hidden characters become escapes; cut to `limit` characters with an ellipsis."""
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if char in _NAMED:
            out.append(_NAMED[char])
        elif is_invisible(char):
            out.append(f"\\u{ord(char):04x}")
        elif unicodedata.category(char) == "Zs" and char != " ":
            out.append(" ")  # odd spaces (no-break, ideographic…) read as a space
        else:
            out.append(char)
    shown = "".join(out)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


@dataclass(frozen=True)
class Fact:
    label: str  # server text
    value: str  # data


@dataclass(frozen=True)
class FileFact:
    name: str
    size: int
    sha256: str
    kind: str = ""

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:16]  # as toolkit.files.SHA256_SHOWN_CHARS: 64 bits, the prefix every question shows


@dataclass(frozen=True)
class View:
    title: str
    facts: tuple[Fact, ...] = ()
    notes: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()  # batch table headings (server text)
    rows: tuple[tuple[str, ...], ...] = ()  # batch rows (data)
    files: tuple[FileFact, ...] = ()
    ask_email: bool = False
    ask_phone: bool = False  # one debtor without a phone: enter one, or proceed without
    batch_without_phone: int = 0  # a batch: how many have no phone (send them too, or skip them)
    ask_amount: str | None = None  # recover_invoice: the amount still due, pre-filled when known
    ask_amount_required: bool = False

    def message(self) -> str:
        """The question as plain text (elicitation message): one line per fact, every value made visible."""
        lines = [self.title]
        lines += [f"{fact.label}: {visible(fact.value, limit=600)}" for fact in self.facts]
        if self.rows:
            lines.append(" | ".join(self.columns))
            lines += ["  - " + " | ".join(visible(cell, limit=120) for cell in row) for row in self.rows[:20]]
            if len(self.rows) > 20:
                lines.append(f"  … and {len(self.rows) - 20} more")
        if self.files:
            lines.append("Documents:")
            lines += [f"  - {visible(f.name, limit=120)} ({f.kind}, {f.size:,} bytes, SHA-256 {f.sha256_prefix}…)"
                      for f in self.files]
        lines += list(self.notes)
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> View:
        raw = json.loads(text)
        raw["facts"] = tuple(Fact(**f) for f in raw.get("facts", ()))
        raw["files"] = tuple(FileFact(**f) for f in raw.get("files", ()))
        raw["notes"] = tuple(raw.get("notes", ()))
        raw["columns"] = tuple(raw.get("columns", ()))
        raw["rows"] = tuple(tuple(r) for r in raw.get("rows", ()))
        return cls(**raw)
