"""Finding each invoice field in layout text, as scored candidates.

A candidate's confidence starts at its label's strength (labels.py) — 0.92 for a specific label, 0.75–0.85 for an
ambiguous one, ≤ 0.6 for an unlabelled guess — and is multiplied by 0.96 when the value sat *under* its label
(table header) rather than beside it. Cross-checks (extract.py) raise or lower it afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import labels as L
from .layout import COLUMN_TOLERANCE, Document, Line, values_below
from .parsing import (
    DateOrder,
    Found,
    find_amounts,
    find_currencies,
    find_dates,
    find_number_tokens,
)

BELOW_FACTOR = 0.96
UNLABELLED = 0.5


@dataclass
class Candidate:
    value: Any
    confidence: float
    line: int
    how: str  # "beside" | "below" | "column" | "guess"
    label: str = ""


# --- helpers -------------------------------------------------------------------------------------------------
_LEAD = re.compile(r"^[\s:.#°\-]*")
_ALLOWED_WORDS = {"eur", "usd", "gbp", "chf", "inr", "rs", "ttc", "ht", "euros", "euro", "htva", "tvac", "incl", "excl"}
_WORD = re.compile(r"[A-Za-zÀ-ÿ]{2,}")


def _label_cell_span(line: Line, m: re.Match) -> tuple[int, int]:
    cell = line.cell_at(m.start() + (len(m.group(0)) - len(m.group(0).lstrip())))
    start = cell.start if cell else m.start()
    return (max(start, m.start()), m.end())


def _next_cells_text(line: Line, pos: int) -> str:
    """Text right of `pos` on the line, limited to the cell containing `pos` and following cells that hold only
    numbers/currency marks (a new word starts another label's territory)."""
    out = line.text[pos:]
    for cell in line.cells:
        if cell.start <= pos:
            continue
        if any(w.lower() not in _ALLOWED_WORDS for w in _WORD.findall(cell.text)):
            return line.text[pos : cell.start]
    return out


def _near_start(tail: str, found: Found, max_gap: int) -> bool:
    gap = tail[: found.start]
    return len(gap.strip()) <= max_gap and not any(ch.isdigit() for ch in gap)


# --- plausibility of single values ----------------------------------------------------------------------------
# A registration number (VAT id, TIN, SIREN, company register) is never money: a long run of digits without cents
# (`29670869006`), or digit groups right after a country prefix (`DE 232 446 240`).
_ID_PREFIX = re.compile(r"(?:\b[A-Z]{2}\s?|[#№]\s?)$")
MAX_PLAIN_DIGITS = 8


def is_registration_shaped(text: str, found: Found) -> bool:
    raw = found.raw
    digits = re.sub(r"\D", "", raw)
    has_cents = bool(re.search(r"[.,]\d{1,2}$", raw))
    if has_cents:
        return False  # registration numbers have no cents
    return len(digits) > MAX_PLAIN_DIGITS or bool(_ID_PREFIX.search(text[: found.start]))


def find_money(text: str) -> list[Found]:
    """Amounts in `text` that can be money (registration-shaped numbers left out)."""
    return [f for f in find_amounts(text) if not is_registration_shaped(text, f)]


_POSTCODE = re.compile(r"\d{4,6}|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}")


def postcode_in_text(line: Line, found: Found) -> bool:
    """A postcode-shaped token inside an address line (`Bangalore, Karnataka, India - 560067`), not a value alone
    in its table cell: never an invoice number unless a label says it is one."""
    if not _POSTCODE.fullmatch(found.value):
        return False
    cell = line.cell_at(found.start)
    return cell is not None and cell.text.strip(" #:") != found.value


# --- label-driven search ----------------------------------------------------------------------------------------
class FieldFinder:
    def __init__(self, doc: Document, order: DateOrder):
        self.doc = doc
        self.order = order

    def dates(self, text: str) -> list[Found]:
        return find_dates(text, self.order)

    def _below(self, line: Line, m: re.Match, finder, rows: int = 1):
        return values_below(self.doc, line, _label_cell_span(line, m), finder, rows=rows)

    # dates -------------------------------------------------------------------------------------------------
    def date_candidates(self, labels: list[L.Label], *, issue: bool) -> list[Candidate]:
        out: list[Candidate] = []
        for lab in labels:
            for line, m in self.doc.search(lab.pattern):
                if issue and lab.strength == L.WEAK and L.NOT_ISSUE_PREFIX.search(line.text[: m.start()]):
                    continue
                tail = line.text[m.end() :]
                found = [f for f in self.dates(tail) if _near_start(tail, f, 12)]
                if found:
                    out.append(Candidate(found[0].value, lab.strength, line.index, "beside", lab.name))
                    continue
                column = self._below(line, m, self.dates, rows=30 if lab.strength == L.WEAK else 1)
                for below_line, f in column:
                    out.append(Candidate(f.value, lab.strength * BELOW_FACTOR, below_line.index, "below", lab.name))
        return out

    def issue_dates_after_number(self) -> list[Candidate]:
        """`Facture n° 562044387 du 02 Juillet 2015` / `Invoice INV-1 dated 2 July 2015`."""
        out = []
        for lab in L.INVOICE_NUMBER:
            for line, m in self.doc.search(lab.pattern):
                tail = line.text[m.end() :]
                mm = re.match(r"[\s:#°]*\S+\s+(?:du|of|dated|del|vom|von|van|de|dal)\s+", tail, re.IGNORECASE)
                if not mm:
                    continue
                found = self.dates(tail[mm.end() :])
                if found and found[0].start == 0:
                    out.append(Candidate(found[0].value, lab.strength, line.index, "beside", "number…du"))
        return out

    # amounts -----------------------------------------------------------------------------------------------
    def amount_candidates(self, labels: list[L.Label], *, tax: bool = False) -> list[Candidate]:
        out: list[Candidate] = []
        for lab in labels:
            for line, m in self.doc.search(lab.pattern):
                if tax and (L.NOT_TAX_CONTEXT.search(line.text) or L.NOT_TAX_PREFIX.search(line.text[: m.start()])):
                    continue
                tail = _next_cells_text(line, m.end())
                found = find_money(tail)
                if found:
                    out.append(Candidate(found[-1].value, lab.strength, line.index, "beside", lab.name))
                    continue
                for below_line, f in self._below(line, m, find_money):
                    out.append(Candidate(f.value, lab.strength * BELOW_FACTOR, below_line.index, "below", lab.name))
        return [c for c in out if c.value >= 0]

    # invoice numbers ---------------------------------------------------------------------------------------
    def number_candidates(self) -> list[Candidate]:
        out: list[Candidate] = []
        for lab in L.INVOICE_NUMBER:
            for line, m in self.doc.search(lab.pattern):
                tail = line.text[m.end() :]
                tokens = find_number_tokens(tail)
                if tokens and _LEAD.match(tail).end() >= tokens[0].start:
                    for value in _token_list(tail, tokens):
                        out.append(Candidate(value, lab.strength, line.index, "beside", lab.name))
                    continue
                for below_line, f in self._below(line, m, find_number_tokens, rows=50):
                    if postcode_in_text(below_line, f):
                        continue
                    out.append(Candidate(f.value, lab.strength * BELOW_FACTOR, below_line.index, "column", lab.name))
        return out

    # free text ---------------------------------------------------------------------------------------------
    def text_after(self, labels: list[L.Label], max_len: int = 200) -> list[Candidate]:
        out = []
        for lab in labels:
            for line, m in self.doc.search(lab.pattern):
                cell = line.cell_at(m.start() + (len(m.group(0)) - len(m.group(0).lstrip())))
                end = cell.end if cell else len(line.text)
                value = line.text[m.end() : end].strip(" :-").rstrip(".")
                if not value and cell is not None:
                    # value in the next cell on the same line
                    nxt = [c for c in line.cells if c.start >= end]
                    value = nxt[0].text.strip(" :-").rstrip(".") if nxt else ""
                how = "beside"
                if not value and cell is not None and not [c for c in line.cells if c.start >= end]:
                    # `Conditions de paiement :` on its own line, the text on the next one
                    below = values_below(self.doc, line, (cell.start, cell.end), _text_cells)
                    if below and abs(below[0][1].start - cell.start) <= COLUMN_TOLERANCE:
                        value, how = below[0][1].value.strip(" :-").rstrip("."), "below"
                        if re.match(r"^[^:]{1,40}:", value):
                            value = ""  # the next line is another `Label : value`, not this label's text
                if value and re.search(r"[A-Za-zÀ-ÿ0-9]", value):
                    factor = BELOW_FACTOR if how == "below" else 1
                    out.append(Candidate(value[:max_len], lab.strength * factor, line.index, how, lab.name))
        return out

    def first_row_under_header(self, header: re.Pattern) -> list[Candidate]:
        """`Désignation` / `Description` column header → the first item's text."""
        out = []
        for line in self.doc.lines:
            for cell in line.cells:
                m = header.fullmatch(cell.text.strip(" :"))
                if not m:
                    continue

                below = values_below(self.doc, line, (cell.start, cell.end), _text_cells, rows=1)
                for below_line, f in below:
                    if abs(f.start - cell.start) <= max(COLUMN_TOLERANCE, 12):
                        out.append(Candidate(f.value.strip(), L.WEAK, below_line.index, "below", "header"))
        return out

    def line_item_amounts(self) -> list[Decimal] | None:
        """The amounts of an item table's line column (`Description … Amount`), read down to the first totals line;
        None when there is no such table, or it does not end on its page with a totals line (a table continued on
        the next page cannot be summed from here)."""
        totals = L.AMOUNT + L.AMOUNT_BEFORE_TAX + L.TAX
        for line in self.doc.lines:
            heads = [c for c in line.cells if L.SERVICE_HEADER.fullmatch(c.text.strip(" :"))]
            amounts = [c for c in line.cells if L.LINE_AMOUNT_HEADER.fullmatch(c.text.strip(" :"))]
            if not heads or not amounts or amounts[-1].start <= heads[0].start:
                continue
            column = amounts[-1]
            values: list[Decimal] = []
            for below_line, found in values_below(self.doc, line, (column.start, column.end), find_money, rows=80):
                if any(lab.pattern.search(below_line.text[: found.start]) for lab in totals):
                    return values if len(values) >= 2 else None
                values.append(found.value)
            return None
        return None

    def currency_candidates(self, amount_line: int | None) -> list[Candidate]:
        counts: dict[str, int] = {}
        for f in find_currencies(self.doc.text):
            counts[f.value] = counts.get(f.value, 0) + 1
        out = []
        if amount_line is not None:
            on_total = find_currencies(self.doc.lines[amount_line].text)
            if on_total:
                out.append(Candidate(on_total[-1].value, 0.95, amount_line, "beside", "currency on total"))
        if counts:
            best = max(counts, key=lambda k: counts[k])
            out.append(Candidate(best, 0.75, -1, "guess", "most frequent currency"))
        return out


def _text_cells(text: str) -> list[Found]:
    """Cells holding words (not just numbers or rules like `--- x ---`)."""
    return [
        Found(mm.group(0), mm.start(), mm.end(), mm.group(0))
        for mm in re.finditer(r"\S+(?: \S+)*", text)
        if re.search(r"[A-Za-zÀ-ÿ]{3,}", mm.group(0)) and not mm.group(0).startswith(("---", "***", "==="))
    ]


def _token_list(tail: str, tokens: list[Found]) -> list[str]:
    """`F-1, F-2 et F-3` → all three; a single number otherwise."""
    values = [tokens[0].value]
    prev = tokens[0]
    for tok in tokens[1:]:
        gap = tail[prev.end : tok.start]
        if not re.fullmatch(r"\s*(?:,|;|&|\bet\b|\band\b|\+)\s*", gap, re.IGNORECASE):
            break
        values.append(tok.value)
        prev = tok
    return values


# --- debtor -------------------------------------------------------------------------------------------------
# OCR often puts a space on either side of `@`; the space is removed from the value.
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+ ?@ ?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
PHONE_LABEL_RE = re.compile(
    r"(?:t[ée]l(?:[ée]phone)?|phone|mobile|portable|gsm|tel|cell)\.?\s*(?:\([^)]*\))?\s*:?\s*(\+?[\d\s().\-/]{8,22}\d)", re.IGNORECASE
)
PHONE_BARE_RE = re.compile(r"(?<![\w+])(\+\d{1,3}[\s.\-]?\(?\d[\d\s().\-]{6,18}\d|0\d(?:[\s.\-]?\d{2}){4}|\(\d{3}\)\s?\d{3}[\s.\-]\d{4})(?!\d)")
# Digits with single spaces/dots between groups; a labelled number of the wrong length is kept (and warned about).
SIRET_RE = re.compile(
    r"siret\s*(?:n[°o])?\s*(?:du\s+)?(?:client|d[ée]biteur)?\s*:?\s*(\d(?:[ .]?\d){5,20})", re.IGNORECASE)
SIREN_RE = re.compile(r"siren\s*(?:n[°o])?\s*:?\s*(\d(?:[ .]?\d){5,12})", re.IGNORECASE)
VAT_RE = re.compile(
    r"(?:tva(?:\s+intra(?:communautaire)?)?|vat(?:\s+(?:no\.?|number|id|reg(?:istration)?))?|n[°o]\s*(?:de\s+)?tva(?:\s+intra(?:communautaire)?)?|btw)"
    r"\s*(?:n[°o]\.?)?\s*:?\s*([A-Z]{2}\s?[0-9A-Z]{2}[\s.]?[0-9A-Z\s.]{7,14}[0-9A-Z])",
    re.IGNORECASE,
)
# `Contact : Name <email>, phone` / `Attn: Name · email · phone`: the name, then (maybe) its contact details.
CONTACT_RE = re.compile(
    r"^(?:(?:contact|interlocuteur|attention|ansprechpartner(?:in)?|contactpersoon|persona\s+de\s+contacto|atenci[óo]n"
    r"|referente)\s*:|(?:attn\.?|[àa]\s+l['’]attention\s+de|t\.a\.v\.?|z\.\s?hd\.?(?:\s+v(?:on|\.))?|alla\s+c\.\s?a\.?"
    r"|c\.\s?a\.)\s*:?)\s*(?P<name>.+)$",
    re.IGNORECASE,
)
CIVILITY_RE = re.compile(r"^(?:m\.|mr\.?|mrs\.?|ms\.?|mme\.?|mlle\.?|monsieur|madame|dr\.?)\s+", re.IGNORECASE)
LEGAL_FORM_RE = re.compile(
    r"\b(?:sas|sasu|sarl|eurl|sa|sci|snc|scop|selarl|ltd|limited|llc|inc|corp|plc|gmbh|kg|b\.?v\.?|n\.?v\.?|ag|srl|spa"
    r"|s\.?l\.?|s\.a\.s?\.?|company|co\.)\b\.?",
    re.IGNORECASE,
)
COUNTRIES = {
    "france": "FR", "belgique": "BE", "belgium": "BE", "suisse": "CH", "switzerland": "CH", "luxembourg": "LU",
    "deutschland": "DE", "germany": "DE", "allemagne": "DE", "nederland": "NL", "netherlands": "NL",
    "pays-bas": "NL", "the netherlands": "NL", "united states": "US", "usa": "US", "united states of america": "US",
    "états-unis": "US", "etats-unis": "US", "united kingdom": "GB", "uk": "GB", "royaume-uni": "GB",
    "espagne": "ES", "spain": "ES", "españa": "ES", "italie": "IT", "italy": "IT", "italia": "IT",
    "monaco": "MC", "canada": "CA", "ireland": "IE", "irlande": "IE", "portugal": "PT",
}
POSTAL_FR_RE = re.compile(r"^(?:(?:F|FR)[\s\-])?(?P<pc>\d{5}|\d{2}\s\d{3})\s+(?P<city>[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’\-\s]*(?:\s(?:cedex|CEDEX)(?:\s\d{1,2})?)?)\s*$")
POSTAL_US_RE = re.compile(r"^(?P<city>[A-Za-z][A-Za-z .'\-]+),?\s+(?P<state>[A-Z]{2})\s+(?P<pc>\d{5}(?:-\d{4})?)\s*$")
POSTAL_NL_RE = re.compile(r"^(?P<pc>\d{4}\s?[A-Z]{2})\s+(?P<city>[A-Za-z][A-Za-z' \-]+)\s*$")
POSTAL_4_RE = re.compile(r"^(?P<pc>\d{4})\s+(?P<city>[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’\-\s]+)\s*$")
POSTAL_UK_RE = re.compile(r"^(?P<city>[A-Za-z][A-Za-z .'\-]+)\s+(?P<pc>[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\s*$")


@dataclass
class DebtorBlock:
    lines: list[str]
    confidence: float
    line_index: int
    label: str = ""


@dataclass
class ParsedDebtor:
    company_name: str | None = None
    company_type: str | None = None
    siret: str | None = None
    siren: str | None = None
    vat_number: str | None = None
    address: dict[str, str] = field(default_factory=dict)
    contact_names: list[tuple[str | None, str | None]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


def _parse_address_lines(lines: list[str]) -> dict[str, str]:
    """Street / postal code / city from the block's address lines: one line per part (`69100 Villeurbanne`,
    `Austin, TX 78701`, `3500 MJ Utrecht`), else a one-line address (`12 rue de la Paix, 75002 Paris`) read by the
    CleverInvo mapping's parser so both sides of the sandbox split addresses the same way."""
    out: dict[str, str] = {}
    matches = [(i, p) for i, p in enumerate(map(parse_postal_line, lines)) if p is not None]
    # The postal line closes the address: prefer the last one, and a 4-digit code (`1600 Larimer Street` looks
    # like one) only when nothing more specific is there.
    specific = [(i, p) for i, p in matches if not p[3]]
    for i, postal in (specific or matches)[-1:]:
        text = lines[i]
        out["postal_code"], out["city"] = postal[0], postal[1]
        if postal[2]:
            out["country"] = postal[2]
            if postal[2] == "US" and (m := POSTAL_US_RE.match(text.strip())):
                out["city"] = f"{m['city'].strip()}, {m['state']}"  # as the CleverInvo mapping sends US cities
        street = [ln for ln in lines[:i] if ln]
        if street:
            # The line that starts with a number is the street; a building/floor line is line2.
            line1 = next((ln for ln in street if re.match(r"^\d", ln)), street[0])
            out["line1"] = line1
            rest = [ln for ln in street if ln is not line1]
            if rest:
                out["line2"] = ", ".join(rest)
        return out
    if lines:
        from cleavr_mcp.cleverinvo.mapping import parse_address

        parsed = parse_address("\n".join(lines))
        if parsed is not None:
            for key in ("line1", "line2", "postal_code", "city", "country"):
                if getattr(parsed, key):
                    out[key] = getattr(parsed, key)
            if parsed.region:
                out["city"] = f"{parsed.city}, {parsed.region}"
    return out


def parse_postal_line(text: str) -> tuple[str, str, str | None, bool] | None:
    """(postal_code, city, country guess, vague) for a `69100 Villeurbanne` / `Fremont CA 94538` / `3500 MJ Utrecht` line."""
    text = text.strip().rstrip(",")
    if m := POSTAL_FR_RE.match(text):
        return m["pc"].replace(" ", ""), m["city"].strip(), None, False
    if m := POSTAL_US_RE.match(text):
        return m["pc"], f"{m['city'].strip()}", "US", False
    if m := POSTAL_NL_RE.match(text):
        return m["pc"], m["city"].strip(), "NL", False
    if m := POSTAL_UK_RE.match(text):
        return m["pc"], m["city"].strip(), "GB", False
    if m := POSTAL_4_RE.match(text):
        return m["pc"], m["city"].strip(), None, True
    return None


def country_of(text: str) -> str | None:
    return COUNTRIES.get(text.strip().strip(".").lower())


def split_name(name: str) -> tuple[str | None, str | None]:
    name = CIVILITY_RE.sub("", name.strip()).strip(" ,")
    name = re.split(r"\s+[-–,(]\s*|\s{2,}", name)[0]
    parts = name.split()
    if not parts:
        return None, None
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], " ".join(parts[1:])


def _contact_details(text: str) -> bool:
    return bool(EMAIL_RE.search(text) or PHONE_BARE_RE.search(text))


def _strip_contact_details(name: str) -> str:
    """`Marie Martin · +33 6 12…` / `Marie Martin <m@x.fr>, 06 …` → `Marie Martin`."""
    name = PHONE_BARE_RE.sub("", EMAIL_RE.sub("", name))
    return re.split(r"\s*[·•|<>,;]\s*|\s{2,}", name.strip())[0].strip(" -")


_INLINE_SEPARATORS = re.compile(r"\s+[-·•|]\s+")
_ID_WORDS = re.compile(r"siret|siren|tva|vat|btw|ust|iva|e-?mail|t[ée]l", re.IGNORECASE)


def split_inline(text: str) -> list[str]:
    """`X SAS, 11 rue …, 31000 Toulouse - N° SIRET client : …` (one line) → one block line per part; any other line
    as it is. Only lines holding a postcode or an identifier are split: a comma in a company name stays."""
    parts: list[str] = []
    for segment in _INLINE_SEPARATORS.split(text):
        pieces = [p.strip() for p in segment.split(",") if p.strip()]
        if len(pieces) > 1 and any(parse_postal_line(p) for p in pieces[1:]):
            parts += pieces
        else:
            parts.append(segment.strip())
    if len(parts) > 1 and (any(parse_postal_line(p) for p in parts) or any(_ID_WORDS.search(p) for p in parts[1:])):
        if not CONTACT_RE.match(text):  # a contact line keeps its details together (name, email, phone)
            return parts
    return [text]


def parse_block(lines: list[str]) -> ParsedDebtor:
    d = ParsedDebtor()
    address_lines: list[str] = []
    explicit_country = None
    lines = [part for raw in lines for part in split_inline(raw.strip())]
    for raw in lines:
        text = raw.strip()
        if not text or L.LABEL_WORDS.match(text) or L.SKIPPED_BLOCK_KEYS.match(text):
            continue  # label words are never names; customer numbers are not part of the debtor
        if m := L.NAME_KEY.match(text):
            if d.company_name is None and text[m.end():].strip():
                d.company_name = text[m.end():].strip(" ,")
            continue
        text = L.ADDRESS_KEY.sub("", text)
        consumed = False
        for email in EMAIL_RE.findall(text):
            email = email.replace(" ", "")
            if email not in d.emails:
                d.emails.append(email)
            consumed = True
        if m := SIRET_RE.search(text):
            number = re.sub(r"\D", "", m[1])
            if len(number) == 9:
                d.siren = number  # a SIREN printed under a SIRET label
            else:
                d.siret = number
            consumed = True
        elif m := SIREN_RE.search(text):
            d.siren = re.sub(r"\D", "", m[1])
            consumed = True
        if m := VAT_RE.search(text):
            d.vat_number = re.sub(r"[\s.]", "", m[1]).upper()
            consumed = True
        contact_line = CONTACT_RE.match(text)
        if m := PHONE_LABEL_RE.search(text):
            d.phones.append(m[1].strip())
            consumed = True
        elif (not consumed or contact_line) and (m := PHONE_BARE_RE.search(text)) and len(re.sub(r"\D", "", m[0])) >= 9:
            # A bare number is a phone on its own line, or on an inline contact line (`Contact : Name <e>, 06 …`).
            if contact_line or not re.search(r"[A-Za-zÀ-ÿ]{3,}", text.replace(m[0], "")):
                d.phones.append(m[0].strip())
                consumed = True
        if m := CONTACT_RE.match(text):
            name = EMAIL_RE.sub("", m["name"]).strip(" ,-")
            # `ATTN: iViveLabs Limited`: a legal form makes it the company, not a person to write to.
            if name and d.company_name is None and LEGAL_FORM_RE.search(name) and not _contact_details(text):
                d.company_name = name
            elif name:
                d.contact_names.append(split_name(_strip_contact_details(name)))
            consumed = True
        if consumed:
            continue
        if re.match(r"^(?:email|e-mail|courriel|mail|web|www\.|http)", text, re.IGNORECASE):
            continue
        if d.company_name is None:
            d.company_name = text.strip(" ,")
            continue
        if (code := country_of(text)) is not None:
            explicit_country = code
            continue
        address_lines.append(text.strip(" ,"))
    d.address.update(_parse_address_lines(address_lines))
    if explicit_country:
        d.address["country"] = explicit_country
    if d.company_name:
        if CIVILITY_RE.match(d.company_name):
            d.company_type = "individual"
        elif LEGAL_FORM_RE.search(d.company_name) or d.siret or d.siren or d.vat_number:
            d.company_type = "company"
    return d


def _with_close_cells(line: Line, cell) -> str:
    """A cell plus the cells right after it when only a small gap separates them (`Fakestreet  46`)."""
    text, end = cell.text, cell.end
    for other in line.cells:
        if other.start > end and other.start - end <= MERGE_GAP:
            text += " " + other.text
            end = other.end
        elif other.start > end:
            break
    return text


MERGE_GAP = 3
SENDER_SEPARATORS = re.compile(r"\s+[-–•●·|]\s+|,\s+")
POSTAL_IN_TEXT = re.compile(r"(?:\b[A-Z]{1,2}-)?\b\d{4,5}\s+[A-Za-zÀ-ÿ]")
SENDER_LINE = 0.6
SENDER_DRIFT = 10
ISSUER_MARKERS = re.compile(
    r"\b(?:iban|bic|swift|kvk|rcs|capital|si[èe]ge|www\.|https?://|registered|handelsregister)\b", re.IGNORECASE
)
# `ATTN: name` continues a block (`Bill to Address:` / `ATTN: iViveLabs Limited`); other headings start a new one.
BLOCK_STOP_LABELS = L.ALL_FIELD_LABELS + [lab for lab in L.DEBTOR_BLOCK if "attn" not in lab.name] + L.SERVICE


class DebtorFinder:
    def __init__(self, doc: Document):
        self.doc = doc

    def labelled_blocks(self) -> list[DebtorBlock]:
        out = []
        for lab in L.DEBTOR_BLOCK:
            for line, m in self.doc.search(lab.pattern):
                cell = line.cell_at(m.start() + (len(m.group(0)) - len(m.group(0).lstrip())))
                # Block labels open a cell (`Facturé à :` / `Bill To`), they are not words inside a sentence.
                if cell is None or m.start() > cell.start + 1:
                    continue
                rest = line.text[m.end() : cell.end].strip(" :")
                block = [rest] if rest else []
                columns = {cell.start} | ({m.end() + (len(line.text[m.end():]) - len(line.text[m.end():].lstrip(" :")))} if rest else set())
                block += self._column_below(line, columns)
                if block:
                    out.append(DebtorBlock(block, lab.strength, line.index, lab.name))
        return out

    def _column_below(
        self, line: Line, columns: set[int], max_lines: int = 10, seen: set[tuple[int, int]] | None = None
    ) -> list[str]:
        """The block's lines: cells starting in the label's column, down to a gap of two lines with nothing there
        (one is tolerated: some layouts put a blank between address lines) or the next label."""
        out: list[str] = []
        empty = 0
        for nxt in self.doc.lines[line.index + 1 :]:
            if nxt.page != line.page or len(out) >= max_lines:
                break
            cell = next((c for c in nxt.cells if any(abs(c.start - col) <= COLUMN_TOLERANCE for col in columns)), None)
            if cell is None:
                empty += 1
                if empty > 1 + (not out):
                    break
                continue
            empty = 0
            if any(lab.pattern.match(cell.text) for lab in BLOCK_STOP_LABELS) or L.SERVICE_HEADER.fullmatch(cell.text):
                break
            text = _with_close_cells(nxt, cell)
            if text.rstrip().endswith(":"):  # `Name:` ... `Kunden AG Mitte` far right: a key-value block
                text += " " + " ".join(c.text for c in nxt.cells if c.start > cell.end)
            out.append(text.strip())
            if seen is not None:
                seen.add((nxt.index, cell.start))
        return out

    def sender_line_blocks(self) -> list[DebtorBlock]:
        """The window-envelope convention: a one-line sender address (`QualityHosting AG - Uferweg 40-42 - D-63571
        Gelnhausen`, `Bei Spiel GmbH ● Ecke 12 ● 12345 Stadthausen`) sits right above the recipient's block.
        A convention, not a label: confidence 0.6."""
        out = []
        for line in self.doc.lines:
            if line.page != 0 or line.index > 60:
                break
            if not line.cells:
                continue
            start = line.cells[0].start
            parts = [p for p in SENDER_SEPARATORS.split(line.text[start:]) if p.strip()]
            if len(parts) < 3 or not any(POSTAL_IN_TEXT.search(p) for p in parts[1:]):
                continue
            # The window sits a few blank lines below the sender line: start the column at the first line there.
            first = next((ln for ln in self.doc.lines[line.index + 1 : line.index + 12]
                          if ln.page == line.page and ln.cells), None)
            if first is None:
                continue
            # The sender line is printed smaller: its columns drift from the block's by a few characters.
            head = min(first.cells, key=lambda c: abs(c.start - start))
            if abs(head.start - start) > SENDER_DRIFT:
                continue
            below = [_with_close_cells(first, head), *self._column_below(first, {head.start}, max_lines=6)]
            out.append(DebtorBlock(below, SENDER_LINE, line.index, "sender line"))
        return out

    def unlabelled_blocks(self) -> list[DebtorBlock]:
        """Address blocks (a column of 2–8 lines ending in a postal line) in the top half of page 1.

        With no `Bill to` label the recipient is, by the envelope-window convention, the right-most such block;
        the issuer usually sits top-left. A guess: confidence 0.5.
        """
        first_page = [ln for ln in self.doc.lines if ln.page == 0]
        if not first_page:
            return []
        limit = first_page[0].index + max(12, len(first_page) // 2)
        seen: set[tuple[int, int]] = set()
        blocks: list[tuple[int, DebtorBlock]] = []
        for line in first_page:
            if line.index > limit:
                break
            for cell in line.cells:
                if (line.index, cell.start) in seen:
                    continue
                seen.add((line.index, cell.start))
                below = self._column_below(line, {cell.start}, max_lines=8, seen=seen)
                texts = [_with_close_cells(line, cell), *below]
                postal = [i for i, t in enumerate(texts) if i and parse_postal_line(t)]
                if not postal:
                    continue
                end = postal[-1] + 1
                if end < len(texts) and country_of(texts[end]):
                    end += 1
                # Bank details, registry numbers and a website next to an address mark the issuer's letterhead.
                issuer_like = any(ISSUER_MARKERS.search(t) for t in texts)
                if 2 <= end <= 8:
                    blocks.append((issuer_like, cell.start, DebtorBlock(texts[:end], UNLABELLED, line.index, "unlabelled")))
        if not blocks:
            return []
        blocks.sort(key=lambda b: (b[0], -b[1], b[2].line_index))
        return [blocks[0][2]]

    def labelled_contact_names(self) -> list[tuple[str | None, str | None]]:
        """`Contact : Marie Martin` on its own line outside the address block."""
        for line in self.doc.lines:
            for cell in line.cells:
                if m := CONTACT_RE.match(cell.text):
                    name = EMAIL_RE.sub("", m["name"]).strip(" ,-")
                    if name and not re.search(r"\d", name):
                        return [split_name(name)]
        return []

    def labelled_emails(self, finder: FieldFinder) -> list[Candidate]:
        def emails(text: str) -> list[Found]:
            return [Found(m.group(0).replace(" ", ""), m.start(), m.end(), m.group(0)) for m in EMAIL_RE.finditer(text)]

        out = []
        for lab in L.CONTACT_EMAIL:
            for line, m in self.doc.search(lab.pattern):
                tail = emails(line.text[m.end() :])
                if tail:
                    out.append(Candidate(tail[0].value, lab.strength, line.index, "beside", lab.name))
                    continue
                for below_line, f in finder._below(line, m, emails):
                    out.append(Candidate(f.value, lab.strength, below_line.index, "below", lab.name))
        return out


def late_penalty_rate(text: str) -> Candidate | None:
    flat = re.sub(r"\s+", " ", text)
    for pattern in L.LATE_PENALTY:
        if m := pattern.search(flat):
            rate = Decimal(m.group(1).replace(",", "."))
            if L.MONTHLY.search(m.group("tail") or "") or L.MONTHLY.search(m.group(0)):
                rate *= 12  # the contract wants an annual rate
            return Candidate(rate.quantize(Decimal("0.01")), L.STRONG, -1, "beside", "penalty")
    return None

