"""Invisible, control and look-alike characters: what is removed from third-party text, what is refused in
identifiers (invoice numbers, names), and how identifiers are folded before an idempotency key is derived.

"Invisible" is decided by Unicode data, not by a hand list of favourites:
- general categories Cc (controls), Cf (format: zero-width, bidi embeddings/overrides/isolates, BOM, tag
  characters U+E0000–E007F), Co (private use), Cn (unassigned), Cs (surrogates), Zl/Zp (U+2028/U+2029);
- the Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, which `unicodedata` does not expose):
  it adds the characters of other categories that render as nothing — variation selectors U+FE00–FE0F and
  U+E0100–E01EF (Mn), Hangul fillers U+115F/U+1160/U+3164/U+FFA0 (Lo), the combining grapheme joiner U+034F,
  Mongolian free variation selectors, Khmer inherent vowels;
- a few characters that are not default-ignorable but draw as blank: U+2800 BRAILLE PATTERN BLANK, U+1D159
  (musical null notehead), U+133FC (Egyptian blank), U+FFFC (object replacement).
Each of these can carry a hidden message (one bit or one byte per character) that a person reviewing the text
cannot see while the model reads it in full.
"""

from __future__ import annotations

import re
import unicodedata

# Default_Ignorable_Code_Point, Unicode 15.1 (DerivedCoreProperties.txt), as inclusive ranges.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
# Drawn as blank (or as nothing) although Unicode does not call them ignorable.
BLANK_LOOKING = frozenset({0x2800, 0x1D159, 0x133FC, 0xFFFC})
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
# Bidi controls are Cf (so already invisible); named here because error messages single them out.
BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})

# Dashes and minus signs that look like "-" (category Pd covers hyphen, en/em dash, figure dash, …).
_EXTRA_DASHES = frozenset({0x2212, 0x2043, 0x02D7, 0x2796, 0xFE63, 0xFF0D})
_BLANK_RUNS = re.compile(r"\n{3,}")


def _default_ignorable(code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in DEFAULT_IGNORABLE)


def is_invisible(ch: str) -> bool:
    """True for a character that renders as nothing (or blank) and can hide text: see the module docstring."""
    code = ord(ch)
    return (unicodedata.category(ch) in INVISIBLE_CATEGORIES or code in BLANK_LOOKING
            or _default_ignorable(code))


def is_dash(ch: str) -> bool:
    return ch == "-" or unicodedata.category(ch) == "Pd" or ord(ch) in _EXTRA_DASHES


def clean_text(text: str, *, max_chars: int = 4000) -> str:
    """Third-party text for the model: NFKC, every invisible character removed (tab and newline kept, other
    spaces made plain), runs of blank lines collapsed, capped in length."""
    if text.isascii() and text.isprintable():
        # Printable ASCII (most names and descriptions) has nothing to remove: NFKC leaves it unchanged, none of
        # its characters is invisible, its only space is " " and it has no line breaks. Same result, ~20× faster.
        kept = text.strip()
    else:
        kept = _clean_unicode(text)
    if len(kept) > max_chars:
        kept = kept[:max_chars] + f"… [truncated, {len(kept) - max_chars} more characters]"
    return kept


def _clean_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif is_invisible(ch):
            continue
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    # NFKC may compose new sequences next to removed characters: normalise once more.
    return _BLANK_RUNS.sub("\n\n", unicodedata.normalize("NFKC", "".join(out))).strip()


def hidden_characters(text: str) -> list[str]:
    """The control, bidi and invisible characters in an identifier, as U+XXXX names (empty when clean).
    Tabs and newlines count too: an invoice number or a name is one line."""
    found: list[str] = []
    for ch in text:
        if is_invisible(ch):
            code = ord(ch)
            kind = "bidi control" if code in BIDI_CONTROLS else (
                "control" if unicodedata.category(ch) == "Cc" else "invisible")
            label = f"U+{code:04X} ({kind})"
            if label not in found:
                found.append(label)
    return found


def refuse_hidden(value: str) -> str:
    """A pydantic AfterValidator for identifiers and names: refuse control, bidi and invisible characters (the
    error names the characters, never echoes the text; the field comes from the validation path)."""
    if value is None:
        return value
    found = hidden_characters(value)
    if found:
        shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
        raise ValueError(f"contains control, bidi or invisible characters ({shown}); retype it with visible "
                         "characters only")
    return value


def fold_identifier(text: str) -> str:
    """The form two spellings of one identifier share: NFKC (full-width → ASCII), invisible characters removed,
    every dash as "-", whitespace collapsed, case folded. `ＤＵＰ–f` and `DUP\u200b-F` both give `dup-f`."""
    text = unicodedata.normalize("NFKC", text)
    chars = []
    for ch in text:
        if is_invisible(ch):
            continue
        chars.append("-" if is_dash(ch) else (" " if ch.isspace() else ch))
    return " ".join("".join(chars).split()).casefold()
