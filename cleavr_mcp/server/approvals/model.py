"""What a person approves: a pending write and the view of it the server built from typed fields.

`View` holds the question's structure (title, labelled facts, notes, batch rows, evidence files, the fields the
person may fill in). Titles, labels and notes are server text; values are data and are only ever rendered through
`text.visible` (elicitation message) or autoescaped on one line (the page).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .text import visible

State = Literal["pending", "approved", "declined", "used"]


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
        return self.sha256[:12]


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


@dataclass
class PendingWrite:
    """One approval: a write waiting for (or holding) a person's decision."""

    id: str
    tool: str
    principal: str
    payload_sha256: str
    payload: dict[str, Any]
    view: View
    channel: str
    state: State
    created_at: float
    expires_at: float
    answers: dict[str, Any] = field(default_factory=dict)
    decided_at: float | None = None
    used_at: float | None = None

    def expired(self, now: float) -> bool:
        return now >= self.expires_at
