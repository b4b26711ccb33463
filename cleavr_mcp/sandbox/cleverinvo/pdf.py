"""Invoice PDFs for the CleverInvo sandbox, rendered with fpdf2.

Clean, labelled, text-layer PDFs so the Cleavr sandbox's extractor can read them back: one "Label : value" per
line, French labels for EUR invoices to French clients (Facture N°, Date d'émission, Date d'échéance, Facturé à,
Total HT, TVA, Total TTC, SIRET…), English otherwise (USD or a foreign client). The core Helvetica font with the
windows-1252 encoding keeps `€`, `œ` and French accents exact in the text layer without shipping a font file;
the rare character outside windows-1252 is transliterated.

Deterministic: the same invoice renders to the same bytes (fixed creation date, no random ids).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from pydantic import BaseModel

from ...cleavr.validation import normalize_phone
from ...cleverinvo.mapping import parse_address, recognise_tax_id

ENCODING = "windows-1252"
CENT = Decimal("0.01")
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

LABELS = {
    "fr": {
        "title": "FACTURE",
        "number": "Facture N°",
        "issue_date": "Date d'émission",
        "due_date": "Date d'échéance",
        "currency": "Devise",
        "bill_to": "Facturé à",
        "siret": "SIRET",
        "siren": "SIREN",
        "vat": "N° TVA intracommunautaire",
        "tax_id": "Identifiant fiscal",
        "email": "Email",
        "phone": "Tél.",
        "description": "Description",
        "quantity": "Qté",
        "unit_price": "Prix unitaire HT",
        "tax_rate": "TVA %",
        "amount": "Montant HT",
        "subtotal": "Total HT",
        "discount": "Remise",
        "tax": "TVA",
        "total": "Total TTC",
        "terms": "Conditions de paiement",
        "default_terms": "Paiement à {days} jours à compter de la date d'émission",
        "penalties": "Pénalités de retard",
        "penalty_text": (
            "En cas de retard de paiement, pénalités au taux annuel de {rate} % exigibles dès le lendemain de "
            "l'échéance, et indemnité forfaitaire pour frais de recouvrement de 40,00 € (art. L441-10 du Code de "
            "commerce). Pas d'escompte pour paiement anticipé."
        ),
        "notes": "Notes",
        "iban": "IBAN",
        "page": "Page",
    },
    "en": {
        "title": "INVOICE",
        "number": "Invoice No.",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "currency": "Currency",
        "bill_to": "Bill to",
        "siret": "SIRET",
        "siren": "SIREN",
        "vat": "VAT number",
        "tax_id": "Tax ID",
        "email": "Email",
        "phone": "Phone",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "tax_rate": "Tax %",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "discount": "Discount",
        "tax": "Tax",
        "total": "Total",
        "terms": "Payment terms",
        "default_terms": "Payment due within {days} days of the issue date",
        "penalties": "Late payment",
        "penalty_text": (
            "Late payments bear interest at {rate} % per year from the day after the due date, plus a fixed "
            "recovery fee of EUR 40.00 for business clients."
        ),
        "notes": "Notes",
        "iban": "IBAN",
        "page": "Page",
    },
}
LATE_PENALTY_RATE = Decimal("10")
COUNTRY_NAMES = {
    "fr": {"GB": "Royaume-Uni", "US": "États-Unis", "BE": "Belgique", "DE": "Allemagne", "ES": "Espagne",
           "IT": "Italie", "CH": "Suisse", "LU": "Luxembourg", "NL": "Pays-Bas", "MC": "Monaco"},
    "en": {"FR": "France", "GB": "United Kingdom", "US": "United States", "BE": "Belgium", "DE": "Germany",
           "ES": "Spain", "IT": "Italy", "CH": "Switzerland", "LU": "Luxembourg", "NL": "Netherlands",
           "IE": "Ireland", "CA": "Canada", "MC": "Monaco"},
}


def address_lines(text: str | None, lang: str) -> list[str]:
    """A client address laid out as on a letter: complement, street, postcode + city, country (when abroad).
    Addresses the parser cannot split are printed as typed, one line per line."""
    parsed = parse_address(text)
    if parsed is None:
        return []
    if not parsed.complete:
        return [ln.strip() for ln in parsed.raw.replace("\r", "").split("\n") if ln.strip()]
    lines = [parsed.line2, parsed.line1] if parsed.line2 else [parsed.line1]
    if parsed.country == "US":
        lines.append(f"{parsed.city}, {parsed.region} {parsed.postal_code}" if parsed.region
                     else f"{parsed.city} {parsed.postal_code}")
    elif parsed.country in ("GB", "IE", "CA"):
        lines.append(f"{parsed.city} {parsed.postal_code}")
    else:
        lines.append(f"{parsed.postal_code} {parsed.city}")
    if parsed.country and (parsed.country != "FR" or lang == "en"):
        lines.append(COUNTRY_NAMES[lang].get(parsed.country, parsed.country))
    return lines


def _plain(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", by_alias=True)
    return dict(value)


def _get(obj: Mapping[str, Any], *names: str) -> Any:
    """First present key among camelCase/snake_case spellings."""
    for name in names:
        if obj.get(name) is not None:
            return obj[name]
    return None


# Letters with no NFKD decomposition, and spaces/dashes windows-1252 lacks.
_FALLBACK = str.maketrans({"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h",
                           "\u2009": " ", "\u2007": " ", "\u2011": "-", "\u2010": "-", "\u2212": "-"})


def _safe(text: Any) -> str:
    """Text the core font can encode: windows-1252 as is, anything else transliterated (or '?')."""
    text = "" if text is None else str(text)
    text = text.replace("\u202f", " ").replace("\u00a0", " ").replace("\t", " ").translate(_FALLBACK)
    try:
        text.encode(ENCODING)
        return text
    except UnicodeEncodeError:
        out = []
        for ch in text:
            try:
                ch.encode(ENCODING)
                out.append(ch)
            except UnicodeEncodeError:
                folded = unicodedata.normalize("NFKD", ch).encode(ENCODING, "ignore").decode(ENCODING)
                out.append(folded or "?")
        return "".join(out)


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def format_money(value: Any, currency: str, lang: str) -> str:
    """`5 500,00 €` in French, `€5,500.00` / `$5,500.00` / `CHF 5,500.00` in English."""
    amount = _decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    grouped = f"{abs(amount):,.2f}"
    symbol = SYMBOLS.get(currency.upper())
    if lang == "fr":
        grouped = grouped.replace(",", " ").replace(".", ",")
        return f"{sign}{grouped} {symbol or currency.upper()}"
    return f"{sign}{symbol}{grouped}" if symbol else f"{sign}{currency.upper()} {grouped}"


def format_date(value: date | None, lang: str) -> str:
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y") if lang == "fr" else value.isoformat()


def format_number(value: Any, lang: str) -> str:
    number = _decimal(value)
    text = f"{number.normalize():f}" if number == number.to_integral() else f"{number:f}".rstrip("0")
    return text.replace(".", ",") if lang == "fr" else text


def invoice_language(invoice: Mapping[str, Any], client: Mapping[str, Any]) -> str:
    """French for EUR invoices to French (or unknown-country) clients; English for any other currency or a
    client abroad."""
    currency = str(_get(invoice, "currency") or "EUR").upper()
    address = parse_address(_get(client, "address"))
    country = address.country if address else None
    tax = recognise_tax_id(_get(client, "taxId", "tax_id")) or {}
    foreign = (country not in (None, "FR", "MC")) or ("foreign" in tax and country != "FR")
    return "fr" if currency == "EUR" and not foreign else "en"


class _InvoicePdf(FPDF):
    def __init__(self, footer_text: str, page_label: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self._footer_text = footer_text
        self._page_label = page_label
        self.set_auto_page_break(auto=True, margin=22)
        self.set_margins(18, 16, 18)

    def footer(self) -> None:
        self.set_y(-16)
        self.set_font("Helvetica", size=7.5)
        self.set_text_color(110, 110, 110)
        self.multi_cell(0, 3.5, self._footer_text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 3.5, f"{self._page_label} {self.page_no()}/{{nb}}", align="C")


def render_invoice_pdf(invoice: Any, client: Any, issuer: Any, *, lang: str | None = None) -> bytes:
    """Render one invoice as PDF bytes.

    `invoice`: the full invoice as the API returns it (camelCase dict or the client's `Invoice` model): number,
    currency, dates, lineItems, subtotal/taxTotal/discountTotal/total, notes, terms. `client`: the client
    (name, address, taxId, email, phone). `issuer`: the creditor (name, address, siret, vat_number, email, phone,
    iban, legal_form). `lang` forces "fr" or "en".
    """
    inv, cli, iss = _plain(invoice), _plain(client), _plain(issuer)
    lang = lang or invoice_language(inv, cli)
    t = LABELS[lang]
    currency = str(_get(inv, "currency") or "EUR").upper()
    number = str(_get(inv, "invoiceNumber", "invoice_number") or "")
    issue = _as_date(_get(inv, "issueDate", "issue_date"))
    due = _as_date(_get(inv, "dueDate", "due_date"))
    money = lambda v: format_money(v, currency, lang)  # noqa: E731

    iss_name = _safe(_get(iss, "name") or "")
    footer_bits = [iss_name]
    if _get(iss, "legal_form", "legalForm"):
        footer_bits.append(_safe(_get(iss, "legal_form", "legalForm")))
    if _get(iss, "siret"):
        footer_bits.append(f"SIRET {_get(iss, 'siret')}")
    if _get(iss, "vat_number", "vatNumber"):
        footer_bits.append(f"{t['vat']} {_get(iss, 'vat_number', 'vatNumber')}")
    pdf = _InvoicePdf(" - ".join(b for b in footer_bits if b), t["page"])
    pdf.set_title(_safe(f"{t['title'].title()} {number}"))
    pdf.set_author(iss_name)
    pdf.set_creator("CleverInvo sandbox")
    pdf.set_creation_date(datetime.combine(issue or date(2000, 1, 1), time(9, 0), tzinfo=UTC))
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw

    # --- Issuer, then the invoice facts: stacked, so every text extractor reads one "Label : value" per line --
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 9, t["title"], align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(width * 0.6, 6, iss_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    issuer_lines = [ln.strip() for ln in str(_get(iss, "address") or "").replace("\r", "").split("\n") if ln.strip()]
    if _get(iss, "siret"):
        issuer_lines.append(f"{t['siret']} : {_get(iss, 'siret')}")
    if _get(iss, "vat_number", "vatNumber"):
        issuer_lines.append(f"{t['vat']} : {_get(iss, 'vat_number', 'vatNumber')}")
    if _get(iss, "email"):
        issuer_lines.append(f"{t['email']} : {_get(iss, 'email')}")
    if _get(iss, "phone"):
        issuer_lines.append(f"{t['phone']} : {_get(iss, 'phone')}")
    for line in issuer_lines:
        pdf.multi_cell(width * 0.6, 4.6, _safe(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        (t["number"], number),
        (t["issue_date"], format_date(issue, lang)),
        (t["due_date"], format_date(due, lang)),
        (t["currency"], currency),
    ):
        pdf.cell(0, 5.4, _safe(f"{label} : {value}"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)

    # --- Bill to ----------------------------------------------------------------------------------------------
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, t["bill_to"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(180, 180, 180)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width * 0.55, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(width * 0.7, 5, _safe(_get(cli, "name") or ""), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9.5)
    bill_lines = address_lines(_get(cli, "address"), lang)
    tax = recognise_tax_id(_get(cli, "taxId", "tax_id")) or {}
    for kind, value in tax.items():
        label = {"siret": t["siret"], "siren": t["siren"], "vat_number": t["vat"]}.get(kind, t["tax_id"])
        bill_lines.append(f"{label} : {value}")
    if _get(cli, "email"):
        bill_lines.append(f"{t['email']} : {_get(cli, 'email')}")
    if _get(cli, "phone"):
        phone = str(_get(cli, "phone"))
        # Printed the way a business would print it: E.164 when it is a valid number, as typed otherwise.
        bill_lines.append(f"{t['phone']} : {normalize_phone(phone) or phone}")
    for line in bill_lines:
        pdf.multi_cell(width * 0.7, 4.8, _safe(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(7)

    # --- Line items -------------------------------------------------------------------------------------------
    items = _get(inv, "lineItems", "line_items") or []
    pdf.set_font("Helvetica", size=9)
    pdf.set_draw_color(200, 200, 200)
    headings = (t["description"], t["quantity"], t["unit_price"], t["tax_rate"], t["amount"])
    with pdf.table(
        col_widths=(78, 16, 30, 16, 34),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=(240, 240, 240)),
        first_row_as_headings=True,
        borders_layout="HORIZONTAL_LINES",
        padding=1.2,
    ) as table:
        row = table.row()
        for heading in headings:
            row.cell(heading)
        for item in items:
            item = _plain(item)
            quantity = _decimal(_get(item, "quantity"))
            unit = _decimal(_get(item, "unitPrice", "unit_price"))
            amount = _get(item, "amount")
            amount = _decimal(amount) if amount is not None else (quantity * unit).quantize(CENT, ROUND_HALF_UP)
            row = table.row()
            row.cell(_safe(_get(item, "description") or ""))
            row.cell(format_number(quantity, lang))
            row.cell(_safe(money(unit)))
            row.cell(format_number(_get(item, "taxRate", "tax_rate") or 0, lang))
            row.cell(_safe(money(amount)))
    pdf.ln(4)

    # --- Totals -----------------------------------------------------------------------------------------------
    subtotal = _decimal(_get(inv, "subtotal"))
    tax_total = _decimal(_get(inv, "taxTotal", "tax_total"))
    discount = _decimal(_get(inv, "discountTotal", "discount_total"))
    total = _decimal(_get(inv, "total"))
    totals = [(t["subtotal"], money(subtotal))]
    if discount:
        totals.append((t["discount"], money(-discount)))
    totals.append((t["tax"], money(tax_total)))
    totals.append((t["total"], money(total)))
    label_x = pdf.l_margin + width * 0.5
    for i, (label, value) in enumerate(totals):
        last = i == len(totals) - 1
        pdf.set_font("Helvetica", "B" if last else "", 11 if last else 9.5)
        pdf.set_x(label_x)
        pdf.cell(width * 0.5, 6.5 if last else 5.5, _safe(f"{label} : {value}"), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)

    # --- Terms, penalties, notes, bank --------------------------------------------------------------------------
    days = (due - issue).days if issue and due else 30
    terms = _get(inv, "terms") or t["default_terms"].format(days=days)
    blocks = [
        (t["terms"], terms),
        (t["penalties"], t["penalty_text"].format(rate=format_number(LATE_PENALTY_RATE, lang))),
    ]
    if _get(inv, "notes"):
        blocks.append((t["notes"], _get(inv, "notes")))
    if _get(iss, "iban"):
        blocks.append((t["iban"], _get(iss, "iban")))
    for label, text in blocks:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, _safe(f"{label} :"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 4.5, _safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)

    return bytes(pdf.output())
