"""Value parsers for invoice text: amounts, dates, invoice numbers, currencies, language.

Every finder returns matches with their character span so the layout code can tell which value sits under or
beside which label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

DateOrder = Literal["DMY", "MDY"]


@dataclass(frozen=True)
class Found:
    value: object
    start: int
    end: int
    raw: str


# --- Amounts ----------------------------------------------------------------------------------------------
_SPACES = " \u00a0\u202f"
# Thousands groups must use one separator consistently (`1 234 567,89`, `1.234.567,89`, `1,234,567.89`); a single
# space only, because layout text separates columns with two or more.
AMOUNT_RE = re.compile(
    r"(?<![\w.,/\-])"
    r"(?P<sign>[-−])?"
    r"(?P<int>\d{1,3}(?P<sep>[ \u00a0\u202f.,'’])\d{3}(?:(?P=sep)\d{3})*|\d+)"
    r"(?P<dec>[.,]\d{1,2})?"
    r"(?![\d]|[.,]\d|[A-Za-z])"
)
_PERCENT_AFTER = re.compile(r"\s?%")


def parse_amount(text: str) -> Decimal | None:
    """`1 234,56 €` / `1.234,56` / `1,234.56` / `$ 279.84` / `-9,32` → Decimal with 2 places; None if not money."""
    m = AMOUNT_RE.search(text.strip().replace("€", " ").replace("$", " ").replace("£", " "))
    return amount_from_match(m) if m else None


def amount_from_match(m: re.Match) -> Decimal | None:
    integer, sep, dec = m.group("int"), m.group("sep"), m.group("dec")
    if sep and dec and dec[0] == sep:  # `1,234,56`: the same mark cannot be both
        return None
    # `1.234` / `1,234` (one mark, three digits after) is read as thousands: invoices do not show 3 decimals.
    digits = integer
    if sep:
        digits = digits.replace(sep, "")
    try:
        value = Decimal(digits + ("." + dec[1:] if dec else ""))
    except InvalidOperation:
        return None
    if m.group("sign"):
        value = -value
    return value.quantize(Decimal("0.01"))


def find_amounts(text: str) -> list[Found]:
    """Money amounts in `text`, percentages excluded."""
    out = []
    for m in AMOUNT_RE.finditer(text):
        if _PERCENT_AFTER.match(text, m.end()):
            continue
        value = amount_from_match(m)
        if value is not None:
            out.append(Found(value, m.start(), m.end(), m.group(0)))
    return out


# --- Currencies -------------------------------------------------------------------------------------------
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
CURRENCY_RE = re.compile(
    r"(?P<sym>[€$£])|(?<![A-Za-z])(?P<code>EUR|USD|GBP|CHF|CAD|AUD|JPY)(?![A-Za-z])|\b(?P<word>euros?|dollars?)\b",
    re.IGNORECASE,
)


def find_currencies(text: str) -> list[Found]:
    out = []
    for m in CURRENCY_RE.finditer(text):
        if m.group("sym"):
            code = CURRENCY_SYMBOLS[m.group("sym")]
        elif m.group("code"):
            code = m.group("code").upper()
        else:
            code = "EUR" if m.group("word").lower().startswith("euro") else "USD"
        out.append(Found(code, m.start(), m.end(), m.group(0)))
    return out


# --- Dates ------------------------------------------------------------------------------------------------
MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    [
        "janvier janv jan january januari",
        "février fevrier févr fevr fév fev feb february februari",
        "mars mar march maart",
        "avril avr apr april",
        "mai may mei",
        "juin jun june juni",
        "juillet juil jul july juli",
        "août aout aug august augustus",
        "septembre sept sep september",
        "octobre oct october oktober",
        "novembre nov november",
        "décembre decembre déc dec december",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _num
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))

_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC_RE = re.compile(r"(?<![\d/.\-])(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?![\d/\-]|\.\d)")
_TEXT_DMY_RE = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:er|st|nd|rd|th|e)?\.?\s+({_MONTH_ALT})\.?,?\s+(\d{{4}})(?!\d)", re.IGNORECASE
)
_TEXT_MDY_RE = re.compile(
    rf"(?<![A-Za-zÀ-ÿ])({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.IGNORECASE
)


def _make_date(y: int, m: int, d: int) -> date | None:
    if y < 100:
        y += 2000
    try:
        return date(y, m, d)
    except ValueError:
        return None


def find_dates(text: str, order: DateOrder = "DMY") -> list[Found]:
    """Dates in `text` in any supported form; `order` decides ambiguous numeric dates (`02/07/2015`)."""
    out: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(d: date | None, m: re.Match) -> None:
        if d is None or any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        out.append(Found(d, m.start(), m.end(), m.group(0)))

    for m in _ISO_RE.finditer(text):
        add(_make_date(int(m[1]), int(m[2]), int(m[3])), m)
    for m in _TEXT_DMY_RE.finditer(text):
        add(_make_date(int(m[3]), MONTHS[m[2].lower()], int(m[1])), m)
    for m in _TEXT_MDY_RE.finditer(text):
        add(_make_date(int(m[3]), MONTHS[m[1].lower()], int(m[2])), m)
    for m in _NUMERIC_RE.finditer(text):
        a, b, y = int(m[1]), int(m[3]), int(m[4])
        if len(m[4]) == 2 and m[2] == ".":
            continue  # `12.05.24` is more often a version or an amount than a date
        day, month = (a, b) if order == "DMY" else (b, a)
        if month > 12 and day <= 12:  # unambiguous the other way round
            day, month = month, day
        add(_make_date(y, month, day), m)
    out.sort(key=lambda f: f.start)
    return out


def parse_date(text: str, order: DateOrder = "DMY") -> date | None:
    found = find_dates(text, order)
    return found[0].value if found else None


def numeric_date_order(text: str, language: str, currency: str | None) -> DateOrder:
    """Day/month order of the document's numeric dates.

    Unambiguous dates decide (`20/03/2023` is DMY, `03/20/2023` is MDY); otherwise an English document billed in
    US dollars is read month-first, everything else day-first.
    """
    dmy = mdy = 0
    for m in _NUMERIC_RE.finditer(text):
        a, b = int(m[1]), int(m[3])
        if a > 12 >= b:
            dmy += 1
        elif b > 12 >= a:
            mdy += 1
    if dmy != mdy:
        return "DMY" if dmy > mdy else "MDY"
    return "MDY" if language == "en" and currency == "USD" else "DMY"


# --- Invoice numbers --------------------------------------------------------------------------------------
NUMBER_TOKEN_RE = re.compile(r"(?<![\w/\-])([A-Za-z0-9][A-Za-z0-9/_.\-]*[A-Za-z0-9])(?![\w])")


def _part_of_amount(text: str, start: int, end: int) -> bool:
    """`45` or `93` of `45,93`: digits joined to other digits by a decimal mark."""
    after = text[end : end + 2]
    before = text[max(0, start - 2) : start]
    return bool(re.fullmatch(r"[.,]\d", after) or re.fullmatch(r"\d[.,]", before))


def find_number_tokens(text: str) -> list[Found]:
    """Tokens that can be invoice numbers: contain a digit, are not dates, amounts with cents or percentages."""
    out = []
    for m in NUMBER_TOKEN_RE.finditer(text):
        tok = m.group(1)
        if not any(c.isdigit() for c in tok):
            continue
        if _PERCENT_AFTER.match(text, m.end()):
            continue
        if find_dates(tok, "DMY") and find_dates(tok, "DMY")[0].raw == tok:
            continue
        if re.fullmatch(r"\d+[.,]\d{1,2}", tok) or (tok.isdigit() and _part_of_amount(text, m.start(1), m.end(1))):
            continue
        out.append(Found(tok, m.start(1), m.end(1), tok))
    return out


# --- Language ---------------------------------------------------------------------------------------------
_LANG_MARKERS = {
    "fr": r"\b(facture|échéance|montant|règlement|payer|tva|ttc|client|adresse|pénalités?|désignation|le|du|des)\b",
    "en": r"\b(invoice|due|amount|bill|tax|subtotal|payment|the|of|to|terms|description)\b",
    "nl": r"\b(factuur|totaal|btw|vervaldatum|datum|bedrag|artikel|klant|prijs|het|een)\b",
}


def detect_language(text: str) -> str:
    lowered = text.lower()
    scores = {lang: len(re.findall(pat, lowered)) for lang, pat in _LANG_MARKERS.items()}
    return max(scores, key=lambda k: scores[k]) if any(scores.values()) else "fr"
