"""What a person is asked to approve, as typed data: the question's structure (title, labelled facts, notes, batch
rows, evidence files, the fields the person may fill in) and how any value is shown as data.

Titles, labels and notes are server text; values are data and are only ever rendered through `visible` (one line,
hidden characters shown as escapes): a value never adds a line, reorders the line it sits on (bidi overrides) or
hides part of itself (zero-width characters), so the question's structure always comes from the server.
Money, rates and commission tiers are typed (`Money`, `Percent`, `tier`), and a line mixing server text with
values is a `Phrase`: an English template (the key a page translates) with typed slots. They are formatted when
shown, per locale, with Babel's CLDR data ("€5,000.00" in English, "5 000,00 €" in French), never stored as text.
Used by the tools (they build the view) and by the server's approval channels (elicitation message, page).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union

from babel import Locale
from babel.numbers import format_currency, format_decimal

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
class Money:
    amount: Decimal
    currency: str = "EUR"


@dataclass(frozen=True)
class Percent:
    rate: Decimal  # 15.90 means 15.90 %


@dataclass(frozen=True, eq=False)
class Phrase:
    """Server text with typed slots: `template` is English (and the key a page translates), `{name}` a slot."""

    template: str
    slots: dict[str, Value] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrase) and (self.template, self.slots) == (other.template, other.slots)

    def __hash__(self) -> int:
        return hash(self.template)


Value = Union[str, int, Money, Percent, Phrase]  # noqa: UP007 - evaluated at run time, where `|` needs the classes
"""What a view shows: a str is data (always through `visible`); the others are typed, formatted when shown."""

_TIER = re.compile(r"(\d+)-(\d+) days|(\d+)\+ days")


def tier(label: str) -> Value:
    """A commission tier as Cleavr names it ("45-89 days", "547+ days"), as a phrase a page translates; any other
    label stays data."""
    match = _TIER.fullmatch(label.strip())
    if match is None:
        return label
    low, high, open_low = match.groups()
    if open_low is not None:
        return Phrase("{low}+ days", {"low": int(open_low)})
    return Phrase("{low}-{high} days", {"low": int(low), "high": int(high)})


def quote(rate: Decimal, commission: Decimal | None, net: Decimal | None, tier_label: str) -> Phrase:
    """The commission line: "15.90 % = €795.00, you receive €4,205.00 (45-89 days)", or, with no amount to
    quote, "15.90 % of what Cleavr recovers (45-89 days)"."""
    if commission is None or net is None:
        return Phrase("{rate} of what Cleavr recovers ({tier})", {"rate": Percent(rate), "tier": tier(tier_label)})
    return Phrase("{rate} = {commission}, you receive {net} ({tier})", {
        "rate": Percent(rate), "commission": Money(commission), "net": Money(net), "tier": tier(tier_label)})


def _same(text: str) -> str:
    return text


def _percent(rate: Decimal, locale: str) -> str:
    if locale.startswith("en"):
        return f"{format_decimal(rate, format='#,##0.00', locale=locale)} %"  # this project's English: "15.90 %"
    pattern = Locale.parse(locale).percent_formats[None].pattern  # e.g. "#,##0\u00a0%": two decimals in it
    return format_decimal(rate / 100, format=re.sub(r"0(?=[^0]*$)", "0.00", pattern, count=1), locale=locale)


def show(value: Value, *, locale: str = "en", translate: Callable[[str], str] = _same,
         limit: int | None = 2000) -> str:
    """`value` as text for a person: data through `visible`; money, rates and phrases formatted for `locale`, the
    phrase's template through `translate`. Formatted text is the server's own: its no-break spaces stay."""
    if isinstance(value, Money):
        return format_currency(value.amount, value.currency, locale=locale)
    if isinstance(value, Percent):
        return _percent(value.rate, locale)
    if isinstance(value, Phrase):
        parts = {name: show(slot, locale=locale, translate=translate, limit=limit)
                 for name, slot in value.slots.items()}
        return translate(value.template).format(**parts)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return visible(value, limit=limit)


@dataclass(frozen=True)
class Fact:
    label: str  # server text
    value: Value  # data (str) or a typed value


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
    notes: tuple[Value, ...] = ()  # server text, or phrases with typed slots
    columns: tuple[str, ...] = ()  # batch table headings (server text)
    rows: tuple[tuple[Value, ...], ...] = ()  # batch rows (data; amounts as Money)
    files: tuple[FileFact, ...] = ()
    ask_email: bool = False
    ask_phone: bool = False  # one debtor without a phone: enter one, or proceed without
    batch_without_phone: int = 0  # a batch: how many have no phone (send them too, or skip them)
    ask_amount: str | None = None  # recover_invoice: the amount still due, pre-filled when known
    ask_amount_required: bool = False

    def message(self) -> str:
        """The question as plain text (elicitation message): one line per fact, every value made visible."""
        lines = [self.title]
        lines += [f"{fact.label}: {show(fact.value, limit=600)}" for fact in self.facts]
        if self.rows:
            lines.append(" | ".join(self.columns))
            lines += ["  - " + " | ".join(show(cell, limit=120) for cell in row) for row in self.rows[:20]]
            if len(self.rows) > 20:
                lines.append(f"  … and {len(self.rows) - 20} more")
        if self.files:
            lines.append("Documents:")
            lines += [f"  - {visible(f.name, limit=120)} ({f.kind}, {f.size:,} bytes, SHA-256 {f.sha256_prefix}…)"
                      for f in self.files]
        lines += [show(note, limit=600) for note in self.notes]
        return "\n".join(lines)

    def to_json(self) -> str:
        raw: dict[str, Any] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        raw["facts"] = [{"label": f.label, "value": _encode(f.value)} for f in self.facts]
        raw["files"] = [vars(f) for f in self.files]
        raw["notes"] = [_encode(n) for n in self.notes]
        raw["rows"] = [[_encode(c) for c in row] for row in self.rows]
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> View:
        raw = json.loads(text)
        raw["facts"] = tuple(Fact(f["label"], _decode(f["value"])) for f in raw.get("facts", ()))
        raw["files"] = tuple(FileFact(**f) for f in raw.get("files", ()))
        raw["notes"] = tuple(_decode(n) for n in raw.get("notes", ()))
        raw["columns"] = tuple(raw.get("columns", ()))
        raw["rows"] = tuple(tuple(_decode(c) for c in r) for r in raw.get("rows", ()))
        return cls(**raw)


def _encode(value: Value) -> Any:
    """JSON for the ledger: a str stays a str; typed values are tagged objects (amounts as exact decimal text)."""
    if isinstance(value, Money):
        return {"money": str(value.amount), "currency": value.currency}
    if isinstance(value, Percent):
        return {"percent": str(value.rate)}
    if isinstance(value, Phrase):
        return {"phrase": value.template, "slots": {k: _encode(v) for k, v in value.slots.items()}}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"int": value}
    return str(value)


def _decode(raw: Any) -> Value:
    if isinstance(raw, str):
        return raw
    if "money" in raw:
        return Money(Decimal(raw["money"]), raw["currency"])
    if "percent" in raw:
        return Percent(Decimal(raw["percent"]))
    if "phrase" in raw:
        return Phrase(raw["phrase"], {k: _decode(v) for k, v in raw["slots"].items()})
    return int(raw["int"])
