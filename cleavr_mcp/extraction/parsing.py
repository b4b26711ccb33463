"""Value parsers for invoice text: amounts, dates, invoice numbers, currencies, language.

Every finder returns matches with their character span so the layout code can tell which value sits under or
beside which label.
"""

from __future__ import annotations

import functools
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
CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "₹": "INR"}
CURRENCY_RE = re.compile(
    r"(?P<sym>[€$£₹])"
    r"|(?<![A-Za-z])(?P<code>EUR|USD|GBP|CHF|CAD|AUD|JPY|INR)(?![A-Za-z])"
    r"|\b(?P<word>euros?|dollars?|rupees?)\b"
    # `Rs 1939`, `Rs. 40.00`: the rupee's usual mark, only in front of a number (`Rs` alone is a word).
    r"|(?<![A-Za-z])(?P<rs>Rs)\.?(?=\s?-?\d)",
    re.IGNORECASE,
)
_WORD_CODES = {"euro": "EUR", "dollar": "USD", "rupee": "INR"}


def find_currencies(text: str) -> list[Found]:
    out = []
    for m in CURRENCY_RE.finditer(text):
        if m.group("sym"):
            code = CURRENCY_SYMBOLS[m.group("sym")]
        elif m.group("code"):
            code = m.group("code").upper()
        elif m.group("rs"):
            if m.group("rs") != "Rs":
                continue  # `RS` / `rs` are not the rupee mark
            code = "INR"
        else:
            code = _WORD_CODES[m.group("word").lower().rstrip("s")]
        out.append(Found(code, m.start(), m.end(), m.group(0)))
    return out


# --- Dates ------------------------------------------------------------------------------------------------
# Dates whose month is written as a word are found by shape here and read by `dateparser`, which knows the month
# names and abbreviations of every language we read (FR, EN, DE, NL, ES, IT: `7. Mai 2014`, `3 de marzo de 2024`,
# `August 3 , 2014`, `29 juillet 2026`). Numeric dates are read here, because their day/month order is a
# property of the whole document (see numeric_date_order), not of one string.
DATE_LANGUAGES = ("fr", "en", "de", "nl", "es", "it")
_MONTH_WORD = r"[A-Za-zÀ-ÿ]{3,10}"
_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC_RE = re.compile(r"(?<![\d/.\-])(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?![\d/\-]|\.\d)")
_TEXT_DMY_RE = re.compile(
    rf"(?<![\w])(\d{{1,2}})(?:er|st|nd|rd|th|e|º)?\.?\s+(?:de\s+)?({_MONTH_WORD})\.?,?\s+(?:de\s+|del\s+)?(\d{{4}})(?!\d)",
    re.IGNORECASE,
)
_TEXT_MDY_RE = re.compile(
    rf"(?<![A-Za-zÀ-ÿ])({_MONTH_WORD})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})(?!\d)", re.IGNORECASE
)


def _make_date(y: int, m: int, d: int) -> date | None:
    if y < 100:
        y += 2000
    try:
        return date(y, m, d)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1)
def _date_parser():
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=list(DATE_LANGUAGES),
        settings={"REQUIRE_PARTS": ["day", "month", "year"], "PREFER_LOCALE_DATE_ORDER": False,
                  "RETURN_AS_TIMEZONE_AWARE": False},
    )


@functools.lru_cache(maxsize=4096)
def parse_worded_date(text: str) -> date | None:
    """`7. Mai 2014` / `August 3 , 2014` / `3 de marzo de 2024` → date, or None when the word is not a month."""
    word = re.search(_MONTH_WORD, text)
    if word is None or word.group(0).lower() in _NOT_MONTHS:
        return None
    try:
        data = _date_parser().get_date_data(re.sub(r"\s+,", ",", text))
    except Exception:  # dateparser raises on some odd inputs; such a string is simply not a date
        return None
    return data.date_obj.date() if data and data.date_obj else None


# Words dateparser reads as relative dates or weekdays, never a month in an invoice date.
_NOT_MONTHS = {"day", "days", "jours", "tage", "dagen", "días", "giorni", "week", "weeks", "month", "months",
               "mois", "monat", "year", "years", "jahr", "ans", "today", "net"}


_VERSION_BEFORE = re.compile(r"(?:version|vers?|v|rev|release|build)\.?\s*$", re.IGNORECASE)


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
    if re.search(_MONTH_WORD, text):
        for m in _TEXT_DMY_RE.finditer(text):
            add(parse_worded_date(m.group(0)), m)
        for m in _TEXT_MDY_RE.finditer(text):
            add(parse_worded_date(m.group(0)), m)
    for m in _NUMERIC_RE.finditer(text):
        a, b, y = int(m[1]), int(m[3]), int(m[4])
        if len(m[4]) == 2 and m[2] == "." and _VERSION_BEFORE.search(text[: m.start()]):
            continue  # `version 12.05.24` is a version; `Zahlungsziel 21.05.14` is a date
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
    "de": r"\b(rechnung|rechnungsnr|rechnungsdatum|betrag|mwst|ust|zahlungsziel|summe|kunde|und|der|die|das|bitte)\b",
    "nl": r"\b(factuur|totaal|btw|vervaldatum|datum|bedrag|artikel|klant|prijs|het|een)\b",
    "es": r"\b(factura|fecha|importe|iva|vencimiento|cliente|total|pago|el|la|los|del)\b",
    "it": r"\b(fattura|data|importo|iva|scadenza|cliente|totale|pagamento|il|della|dei|di)\b",
}


def detect_language(text: str) -> str:
    """The document's language (fr, en, de, nl, es, it): the one whose marker words occur most; fr if none."""
    lowered = text.lower()
    scores = {lang: len(re.findall(pat, lowered)) for lang, pat in _LANG_MARKERS.items()}
    return max(scores, key=lambda k: scores[k]) if any(scores.values()) else "fr"
