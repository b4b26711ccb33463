"""Strings from the model, the debtor or an API rendered as data: one line, nothing invisible, nothing that turns
the text around.

A value shown to the person (in an elicitation message or on the approval page) must never add a line, reorder
the line it sits on (bidi overrides) or hide part of itself (zero-width characters): such characters are shown as
visible escapes (``\\n``, ``\\u202e``), so the question's structure always comes from the server.
"""

from __future__ import annotations

import unicodedata

from ...cleavr.text import is_invisible  # the project's one definition of "invisible" (Unicode data)

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_hidden(char: str) -> bool:
    return is_invisible(char)


def visible(value: object, *, limit: int | None = None) -> str:
    """`value` as one visible line: hidden characters become escapes; cut to `limit` characters with an ellipsis."""
    text = "" if value is None else str(value)
    out = []
    for char in text:
        if char in _NAMED:
            out.append(_NAMED[char])
        elif is_hidden(char):
            out.append(f"\\u{ord(char):04x}")
        elif unicodedata.category(char) == "Zs" and char != " ":
            out.append(" ")  # odd spaces (no-break, ideographic…) read as a space
        else:
            out.append(char)
    shown = "".join(out)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def has_hidden(value: str) -> bool:
    return any(is_hidden(c) for c in value)
