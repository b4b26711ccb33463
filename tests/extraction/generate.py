"""A seeded generator of invoice PDFs with their ground truth, for the extractor's tests and benchmark.

`generate_corpus(seed)` → 51 `Case`s. Later layouts (LATER_PLAN, their own seeded stream): the long-form French
letter (`Lyon, le …`, the client on one line, inline contact lines), German (a table layout and a DIN 5008 window
letter), Dutch, Spanish and Italian. The first 37: seven visually different templates (bordered tables with labels above
values, two-column header, minimal text, US English in dollars, English in euros, a statement listing several
invoices, a letter listing several invoice numbers), French and English, numbers with thousands separators in three
styles, dates in six formats, and variations: no due date, no email, no phone, an invalid SIRET, and scans (a text
PDF rendered to a slightly rotated, speckled grey image wrapped in a PDF without text layer).

Each case's `truth` maps contract paths (`invoice.amount`, `debtor.contacts[0].email`…) to the expected value;
`None` means "must not be extracted" (e.g. the issuer's email must not be taken for the debtor's). Same seed →
same PDFs, byte for byte (fixed creation dates, seeded noise).

Run `python tests/extraction/generate.py OUTDIR` to write the PDFs and a truth.json to look at.
"""

from __future__ import annotations

import io
import json
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20250828
CENT = Decimal("0.01")
FIXED_DATE = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

# --- data pools --------------------------------------------------------------------------------------------
ISSUERS_FR = [
    ("Atelier Numérique SAS", "8 rue des Lilas", "69003", "Lyon"),
    ("Conseil & Stratégie SARL", "22 allée des Tilleuls", "31000", "Toulouse"),
    ("Transports Lefèvre SA", "ZI des Béthunes, 5 rue du Fer", "95310", "Saint-Ouen-l'Aumône"),
    ("Studio Graphique Lumière EURL", "14 rue Sainte-Catherine", "33000", "Bordeaux"),
]
ISSUERS_EN = [
    ("Brightside Consulting LLC", "500 Market Street", "San Francisco, CA 94105"),
    ("Northwind Traders Inc.", "88 Pine Street", "Seattle, WA 98101"),
]
DEBTORS_FR = [
    "Dupont Industrie SAS", "Garage des Alpes SARL", "Maison Bernard SA", "Cabinet Rousseau SELARL",
    "Hôtel du Lac SAS", "Boulangerie Moreau SARL", "Menuiserie Girard EURL", "Clinique Vétérinaire Mercier SAS",
    "Imprimerie Laurent SA", "Pharmacie Centrale SARL", "Agence Horizon SAS", "Brasserie des Halles SARL",
]
DEBTORS_US = ["Acme Widgets Inc.", "Globex Corporation", "Initech LLC", "Umbrella Supplies Inc."]
STREETS_FR = [
    "12 rue de la République", "45 avenue Jean Jaurès", "8 boulevard Haussmann", "3 place Bellecour",
    "27 chemin des Vignes", "150 cours Lafayette", "6 impasse des Lilas", "19 quai de la Fosse",
]
CITIES_FR = [
    ("75008", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"), ("33000", "Bordeaux"),
    ("44000", "Nantes"), ("59000", "Lille"), ("67000", "Strasbourg"), ("06000", "Nice"), ("35000", "Rennes"),
]
STREETS_US = ["1200 Congress Avenue", "1600 Larimer Street", "300 Boylston Street", "905 SW Alder Street"]
CITIES_US = [("Austin", "TX", "78701", "512"), ("Denver", "CO", "80202", "303"), ("Boston", "MA", "02116", "617"),
             ("Portland", "OR", "97205", "503")]
FIRST = ["Marie", "Pierre", "Sophie", "Julien", "Camille", "Nicolas", "Claire", "Thomas", "Léa", "Hugo"]
LAST = ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefebvre", "Girard", "Mercier", "Fontaine", "Roux"]
FIRST_US = ["John", "Emily", "Michael", "Sarah", "David", "Jessica"]
LAST_US = ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson"]
ITEMS_FR = [
    "Développement d'un site e-commerce", "Maintenance informatique mensuelle", "Audit de sécurité réseau",
    "Transport de marchandises Lyon-Paris", "Prestation de conseil en stratégie", "Location de matériel de chantier",
    "Formation bureautique (2 jours)", "Création d'identité visuelle", "Hébergement et infogérance",
]
ITEMS_EN = [
    "Website redesign and hosting", "Consulting services for Q3", "Annual software license",
    "Cloud migration workshop", "Custom reporting dashboard", "Security assessment",
]
TERMS_FR = ["30 jours fin de mois", "À réception de facture", "45 jours nets", "Paiement à 30 jours"]
TERMS_EN = ["Net 30", "Net 15", "Due on receipt", "Net 45"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]


# German, Dutch, Spanish and Italian debtors (layouts added later: their own seeded stream, so the older cases
# stay byte for byte the same).
EU = {
    "de": {
        "debtors": ["Müller Maschinenbau GmbH", "Schneider Logistik AG", "Bäckerei Weber KG", "Fischer & Partner GmbH"],
        "streets": ["Hauptstraße 12", "Bahnhofstraße 5", "Lindenallee 23", "Goethestraße 41"],
        "cities": [("10115", "Berlin", "+49 30"), ("80331", "München", "+49 89"), ("50667", "Köln", "+49 221"),
                   ("20095", "Hamburg", "+49 40")],
        "country": ("DE", "Deutschland"),
        "first": ["Anna", "Lukas", "Julia", "Felix"], "last": ["Schmidt", "Becker", "Hoffmann", "Wagner"],
        "items": ["Wartung der Produktionsanlage", "Softwareentwicklung (Sprint 4)", "Beratung Logistikprozesse",
                  "Lieferung Ersatzteile"],
        "terms": ["14 Tage netto", "Zahlbar innerhalb von 30 Tagen ohne Abzug"],
        "tax_rate": "19", "tld": ".de",
    },
    "nl": {
        "debtors": ["Van Dijk Installaties B.V.", "De Vries Bouw B.V.", "Jansen Advies B.V.", "Bakker Transport B.V."],
        "streets": ["Keizersgracht 123", "Stationsweg 8", "Dorpsstraat 17", "Kerkstraat 54"],
        "cities": [("1012 AB", "Amsterdam", "+31 20"), ("3011 AD", "Rotterdam", "+31 10"), ("3511 LX", "Utrecht", "+31 30")],
        "country": ("NL", "Nederland"),
        "first": ["Sanne", "Daan", "Lotte", "Bram"], "last": ["de Jong", "Visser", "Smit", "Mulder"],
        "items": ["Onderhoud installatie", "Adviesuren projectbegeleiding", "Transport Rotterdam-Utrecht"],
        "terms": ["30 dagen netto", "Binnen 14 dagen na factuurdatum"],
        "tax_rate": "21", "tld": ".nl",
    },
    "es": {
        "debtors": ["Construcciones García S.L.", "Distribuciones Martínez S.A.", "Talleres López S.L."],
        "streets": ["Calle Mayor 15", "Avenida de la Constitución 8", "Calle de Alcalá 120"],
        "cities": [("28013", "Madrid", "+34 91"), ("08002", "Barcelona", "+34 93"), ("46002", "Valencia", "+34 96")],
        "country": ("ES", "España"),
        "first": ["Lucía", "Javier", "Carmen", "Pablo"], "last": ["García", "Fernández", "Ruiz", "Moreno"],
        "items": ["Mantenimiento de instalaciones", "Consultoría informática", "Suministro de material eléctrico"],
        "terms": ["Transferencia a 30 días", "Pago a 60 días fecha factura"],
        "tax_rate": "21", "tld": ".es",
    },
    "it": {
        "debtors": ["Rossi Costruzioni S.r.l.", "Bianchi Forniture S.p.A.", "Ferrari Impianti S.r.l."],
        "streets": ["Via Roma 25", "Corso Vittorio Emanuele 10", "Via Garibaldi 7"],
        "cities": [("00184", "Roma", "+39 06"), ("20121", "Milano", "+39 02"), ("10121", "Torino", "+39 011")],
        "country": ("IT", "Italia"),
        "first": ["Giulia", "Marco", "Francesca", "Luca"], "last": ["Rossi", "Russo", "Colombo", "Romano"],
        "items": ["Manutenzione impianto elettrico", "Consulenza fiscale", "Fornitura materiale da ufficio"],
        "terms": ["Bonifico bancario a 30 giorni", "Rimessa diretta a 60 giorni"],
        "tax_rate": "22", "tld": ".it",
    },
}
MONTHS = {
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November",
           "Dezember"],
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
           "novembre", "dicembre"],
}
# The words of one invoice layout in each language.
WORDS = {
    "de": {"title": "RECHNUNG", "number": "Rechnungsnr.", "issue": "Rechnungsdatum", "due": "Zahlungsziel",
           "bill_to": "Rechnungsadresse", "items": ["Beschreibung", "Menge", "Einzelpreis", "Betrag"],
           "before": "Nettobetrag", "tax": "MwSt. {rate} %", "total": "Gesamtbetrag", "terms": "Zahlungsbedingungen",
           "contact": "Ansprechpartner", "email": "E-Mail", "phone": "Tel."},
    "nl": {"title": "FACTUUR", "number": "Factuurnummer", "issue": "Factuurdatum", "due": "Vervaldatum",
           "bill_to": "Factuuradres", "items": ["Omschrijving", "Aantal", "Prijs", "Bedrag"],
           "before": "Subtotaal", "tax": "BTW {rate}%", "total": "Totaal incl. BTW", "terms": "Betalingstermijn",
           "contact": "T.a.v.", "email": "E-mail", "phone": "Tel."},
    "es": {"title": "FACTURA", "number": "Nº de factura", "issue": "Fecha de factura", "due": "Fecha de vencimiento",
           "bill_to": "Facturar a", "items": ["Descripción", "Cantidad", "Precio", "Importe"],
           "before": "Base imponible", "tax": "IVA {rate} %", "total": "Total a pagar", "terms": "Forma de pago",
           "contact": "Atención", "email": "Email", "phone": "Tel."},
    "it": {"title": "FATTURA", "number": "Fattura n.", "issue": "Data fattura", "due": "Scadenza",
           "bill_to": "Spett.le", "items": ["Descrizione", "Quantità", "Prezzo", "Importo"],
           "before": "Imponibile", "tax": "IVA {rate}%", "total": "Totale documento",
           "terms": "Modalità di pagamento", "contact": "Alla c.a.", "email": "Email", "phone": "Tel."},
}


@dataclass
class Case:
    name: str
    pdf: bytes
    truth: dict[str, Any]
    template: str
    language: str
    scanned: bool = False
    tags: set[str] = field(default_factory=set)
    expected_warnings: set[str] = field(default_factory=set)  # fields that must carry a warning


# --- identifiers -------------------------------------------------------------------------------------------
def _luhn_complete(rng: random.Random, prefix_len: int) -> str:
    from stdnum import luhn

    body = "".join(str(rng.randint(0, 9)) for _ in range(prefix_len))
    if body[0] == "0":
        body = "1" + body[1:]
    return body + luhn.calc_check_digit(body)


def make_siret(rng: random.Random, valid: bool = True) -> str:
    from stdnum import luhn

    siren = _luhn_complete(rng, 8)
    siret = siren + f"{rng.randint(1, 999):04d}"  # NIC: 4 digits + the Luhn key over all 14
    siret += luhn.calc_check_digit(siret)
    if not valid:
        siret = siret[:-1] + str((int(siret[-1]) + 3) % 10)
    return siret


def vat_for(siret: str) -> str:
    siren = siret[:9]
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def make_phone_fr(rng: random.Random) -> tuple[str, str]:
    """(as printed, E.164)."""
    from cleavr_mcp.cleavr.validation import normalize_phone

    while True:
        head = rng.choice(["06", "07", "01", "04", "05"])
        pairs = [f"{rng.randint(10, 99)}" for _ in range(4)]
        style = rng.randrange(3)
        if style == 0:
            printed = head + " " + " ".join(pairs)
        elif style == 1:
            printed = head + "." + ".".join(pairs)
        else:
            printed = f"+33 {head[1]} " + " ".join(pairs)
        e164 = normalize_phone(printed)
        if e164:
            return printed, e164


def make_phone_us(rng: random.Random, area: str) -> tuple[str, str]:
    from cleavr_mcp.cleavr.validation import normalize_phone

    while True:
        printed = f"({area}) {rng.randint(201, 989)}-{rng.randint(1000, 9999)}"
        e164 = normalize_phone(printed, "US")
        if e164:
            return printed, e164


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


# --- formatting ----------------------------------------------------------------------------------------------
def money(value: Decimal, style: str) -> str:
    """fr: `1 234,56`; fr_dot: `1.234,56`; en: `1,234.56`; plain: `1234.56`."""
    grouped = f"{value:,.2f}"
    if style == "fr":
        return grouped.replace(",", "\u00a0").replace(".", ",")
    if style == "fr_dot":
        return grouped.replace(",", "#").replace(".", ",").replace("#", ".")
    if style == "plain":
        return f"{value:.2f}"
    return grouped


def fmt_date(d: date, style: str) -> str:
    if style == "fr_num":
        return d.strftime("%d/%m/%Y")
    if style == "fr_long":
        return f"{'1er' if d.day == 1 else d.day} {MONTHS_FR[d.month - 1]} {d.year}"
    if style == "iso":
        return d.isoformat()
    if style == "en_long":
        return f"{MONTHS_EN[d.month - 1]} {d.day}, {d.year}"
    if style == "en_short":
        return f"{d.day:02d} {MONTHS_EN[d.month - 1][:3]} {d.year}"
    if style == "us_num":
        return d.strftime("%m/%d/%Y")
    if style == "de_long":
        return f"{d.day}. {MONTHS['de'][d.month - 1]} {d.year}"
    if style == "de_num":
        return d.strftime("%d.%m.%Y")
    if style == "de_short":
        return d.strftime("%d.%m.%y")
    if style == "nl_long":
        return f"{d.day} {MONTHS['nl'][d.month - 1]} {d.year}"
    if style == "nl_num":
        return d.strftime("%d-%m-%Y")
    if style == "es_long":
        return f"{d.day} de {MONTHS['es'][d.month - 1]} de {d.year}"
    if style == "it_long":
        return f"{d.day} {MONTHS['it'][d.month - 1]} {d.year}"
    if style == "eu_slash":
        return d.strftime("%d/%m/%Y")
    raise ValueError(style)


# --- the invoice being drawn ---------------------------------------------------------------------------------
@dataclass
class Spec:
    language: str
    currency: str
    number: str
    numbers: list[str]
    issue: date
    due: date | None
    items: list[tuple[str, Decimal, Decimal]]  # description, quantity, unit price
    tax_rate: str  # as printed: "20", "5,5" / "5.5"
    before_tax: Decimal
    tax: Decimal
    total: Decimal
    debtor: str
    street: str
    postal: str
    city: str
    country: str
    contact_first: str
    contact_last: str
    email: str | None
    phone: tuple[str, str] | None
    siret: str | None
    siret_valid: bool
    vat: str | None
    issuer: tuple
    issuer_siret: str
    issuer_email: str
    issuer_phone: str
    service: str
    terms: str | None
    penalty_text: str | None
    penalty_rate: Decimal | None
    money_style: str
    date_style: str
    statement: list[tuple[str, date, date, Decimal]] = field(default_factory=list)
    contact_style: str = "line"  # line | attn | none
    issuer_vat: str = ""
    issuer_iban: str = ""

    def m(self, value: Decimal) -> str:
        s = money(value, self.money_style)
        if self.currency == "USD":
            return f"${s}"
        if self.language in ("fr", "de", "es", "it"):
            return f"{s} €"
        if self.language == "nl":
            return f"€ {s}"
        return f"€{s}" if self.money_style == "en" else f"EUR {s}"

    def d(self, value: date) -> str:
        return fmt_date(value, self.date_style)


def _pdf():
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(15, 15, 15)
    pdf.add_page()
    return pdf


def _lines(pdf, x: float, lines: list[str], *, size: float = 9.5, h: float = 4.6, w: float = 80, bold_first=False):
    for i, text in enumerate(lines):
        pdf.set_xy(x, pdf.get_y())
        pdf.set_font("Helvetica", "B" if bold_first and i == 0 else "", size)
        pdf.cell(w, h, text)
        pdf.ln(h)


def _debtor_lines(s: Spec, *, fr: bool, ids: bool = True, contact_line: bool = True) -> list[str]:
    lines = [s.debtor]
    if contact_line:
        lines.append(f"À l'attention de {s.contact_first} {s.contact_last}" if fr else f"Attn: {s.contact_first} {s.contact_last}")
    lines.append(s.street)
    if s.country == "US":
        lines += [f"{s.city}, {s.postal}", "United States"]
    else:
        lines += [f"{s.postal} {s.city}", "France"]
    if ids and s.siret:
        lines.append(f"SIRET : {s.siret[:3]} {s.siret[3:6]} {s.siret[6:9]} {s.siret[9:]}" if fr else f"SIRET: {s.siret}")
    if ids and s.vat:
        lines.append(f"N° TVA : {s.vat}" if fr else f"VAT No: {s.vat}")
    if s.email:
        lines.append(f"Email : {s.email}" if fr else f"Email: {s.email}")
    if s.phone:
        lines.append(f"Tél : {s.phone[0]}" if fr else f"Phone: {s.phone[0]}")
    return lines


def _issuer_lines(s: Spec, fr: bool) -> list[str]:
    name, street, *rest = s.issuer
    city_line = f"{rest[0]} {rest[1]}" if len(rest) == 2 else rest[0]
    return [name, street, city_line, f"Tél : {s.issuer_phone}" if fr else f"Phone: {s.issuer_phone}",
            s.issuer_email]


def _footer(pdf, s: Spec, fr: bool):
    pdf.set_auto_page_break(False)
    pdf.set_y(-32)
    pdf.set_font("Helvetica", "", 7.5)
    if s.terms:
        pdf.cell(0, 4, f"Conditions de paiement : {s.terms}" if fr else f"Payment terms: {s.terms}")
        pdf.ln(4)
    if s.penalty_text:
        pdf.multi_cell(0, 3.6, s.penalty_text)
    legal = (f"{s.issuer[0]} - SIRET {s.issuer_siret} - TVA {vat_for(s.issuer_siret)} - capital 10 000 €" if fr
             else f"{s.issuer[0]} - Registered company")
    pdf.cell(0, 4, legal, align="C")


def _items_table(pdf, s: Spec, fr: bool, *, borders: bool):
    heads = (["Désignation", "Qté", "Prix unitaire HT", "Montant HT"] if fr
             else ["Description", "Qty", "Unit price", "Amount"])
    widths = [95, 15, 35, 35]
    pdf.set_font("Helvetica", "B", 9)
    for head, w in zip(heads, widths):
        pdf.cell(w, 7, head, border=1 if borders else "B", align="L" if head == heads[0] else "R")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 9)
    for desc, qty, unit in s.items:
        pdf.cell(widths[0], 6.5, desc, border=1 if borders else 0)
        pdf.cell(widths[1], 6.5, f"{qty}", border=1 if borders else 0, align="R")
        pdf.cell(widths[2], 6.5, s.m(unit), border=1 if borders else 0, align="R")
        pdf.cell(widths[3], 6.5, s.m((qty * unit).quantize(CENT)), border=1 if borders else 0, align="R")
        pdf.ln(6.5)
    pdf.ln(3)


def _totals(pdf, s: Spec, rows: list[tuple[str, Decimal]], *, x: float = 120, borders: bool = False):
    for i, (label, value) in enumerate(rows):
        pdf.set_x(x)
        pdf.set_font("Helvetica", "B" if i == len(rows) - 1 else "", 10)
        pdf.cell(45, 6.5, label, border=1 if borders else 0)
        pdf.cell(30, 6.5, s.m(value), border=1 if borders else 0, align="R")
        pdf.ln(6.5)


# --- templates -------------------------------------------------------------------------------------------------
def tpl_fr_table(s: Spec) -> bytes:
    """Bordered tables; number/dates in a header row with values underneath; `Facturé à` box on the right."""
    pdf = _pdf()
    _lines(pdf, 15, _issuer_lines(s, True), bold_first=True)
    pdf.set_xy(120, 15)
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(75, 10, "FACTURE", align="R")
    pdf.set_xy(100, 30)
    heads = ["N° de facture", "Date de facture"] + (["Date d'échéance"] if s.due else [])
    pdf.set_font("Helvetica", "B", 8.5)
    for head in heads:
        pdf.cell(32, 6, head, border=1)
    pdf.set_xy(100, 36)
    pdf.set_font("Helvetica", "", 9)
    for value in [s.number, s.d(s.issue)] + ([s.d(s.due)] if s.due else []):
        pdf.cell(32, 6, value, border=1)
    pdf.set_xy(110, 50)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(80, 6, "Facturé à :")
    pdf.ln(6)
    _lines(pdf, 110, _debtor_lines(s, fr=True))
    pdf.set_y(max(pdf.get_y() + 6, 110))
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Objet : {s.service}")
    pdf.ln(10)
    _items_table(pdf, s, True, borders=True)
    _totals(pdf, s, [("Total HT", s.before_tax), (f"TVA {s.tax_rate} %", s.tax), ("Total TTC", s.total)],
            borders=True)
    _footer(pdf, s, True)
    return bytes(pdf.output())


def tpl_fr_two_column(s: Spec) -> bytes:
    """Issuer left, `Client :` block right, `Facture N° X du <date>` line, totals as `Label : value`."""
    pdf = _pdf()
    top = pdf.get_y()
    _lines(pdf, 15, _issuer_lines(s, True) + [f"SIRET : {s.issuer_siret}"], bold_first=True)
    pdf.set_xy(115, top)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(80, 5, "Client :")
    pdf.ln(5)
    _lines(pdf, 115, _debtor_lines(s, fr=True, contact_line=False))
    pdf.ln(8)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, f"Facture N° {s.number} du {s.d(s.issue)}")
    pdf.ln(9)
    pdf.set_font("Helvetica", "", 10)
    if s.due:
        pdf.cell(0, 6, f"Date d'échéance : {s.d(s.due)}")
        pdf.ln(6)
    pdf.cell(0, 6, f"Contact : {s.contact_first} {s.contact_last}")
    pdf.ln(6)
    pdf.cell(0, 6, f"Objet : {s.service}")
    pdf.ln(10)
    _items_table(pdf, s, True, borders=False)
    pdf.set_font("Helvetica", "", 10)
    for label, value in (("Montant HT", s.before_tax), (f"TVA ({s.tax_rate} %)", s.tax), ("Net à payer", s.total)):
        pdf.set_x(110)
        pdf.cell(0, 6, f"{label} : {s.m(value)}")
        pdf.ln(6)
    _footer(pdf, s, True)
    return bytes(pdf.output())


def tpl_minimal(s: Spec) -> bytes:
    """Plain lines, no table, no HT/TVA breakdown: one label per line."""
    fr = s.language == "fr"
    pdf = _pdf()
    pdf.set_font("Helvetica", "", 11)
    rows = [
        (f"Facture n° {s.number}" if fr else f"Invoice {s.number}"),
        (f"Date : {s.d(s.issue)}" if fr else f"Date: {s.d(s.issue)}"),
    ]
    if s.due:
        rows.append(f"À payer avant le : {s.d(s.due)}" if fr else f"Due: {s.d(s.due)}")
    rows.append("")
    rows.append(("Destinataire : " if fr else "Bill to: ") + s.debtor)
    rows += _debtor_lines(s, fr=fr, contact_line=False)[1:]
    rows.append("")
    rows.append(f"Prestation : {s.service}" if fr else f"Description: {s.service}")
    rows.append(f"Total TTC : {s.m(s.total)}" if fr else f"Total due: {s.m(s.total)}")
    if s.terms:
        rows.append(f"Conditions de paiement : {s.terms}" if fr else f"Terms: {s.terms}")
    for row in rows:
        pdf.cell(0, 6.5, row)
        pdf.ln(6.5)
    if s.penalty_text:
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4, s.penalty_text)
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(0, 4, " - ".join(_issuer_lines(s, fr)))
    return bytes(pdf.output())


def tpl_us(s: Spec) -> bytes:
    """US English: `Invoice #`, `Bill To` under the issuer, MM/DD/YYYY, Subtotal / Sales Tax / Amount Due."""
    pdf = _pdf()
    pdf.set_font("Helvetica", "B", 22)
    pdf.cell(0, 12, "INVOICE", align="R")
    pdf.ln(14)
    _lines(pdf, 15, _issuer_lines(s, False), bold_first=True)
    pdf.set_xy(130, 30)
    pdf.set_font("Helvetica", "", 10)
    facts = [("Invoice #:", s.number), ("Invoice Date:", s.d(s.issue))] + ([("Due Date:", s.d(s.due))] if s.due else [])
    for label, value in facts:
        pdf.set_x(130)
        pdf.cell(30, 6, label)
        pdf.cell(35, 6, value, align="R")
        pdf.ln(6)
    pdf.set_y(70)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "BILL TO")
    pdf.ln(6)
    _lines(pdf, 15, _debtor_lines(s, fr=False, ids=False))
    pdf.ln(8)
    _items_table(pdf, s, False, borders=False)
    _totals(pdf, s, [("Subtotal", s.before_tax), (f"Sales Tax ({s.tax_rate}%)", s.tax), ("Amount Due", s.total)])
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 5, f"Payment terms: {s.terms}" if s.terms else "Thank you for your business!")
    pdf.ln(5)
    if s.penalty_text:
        pdf.multi_cell(0, 4.5, s.penalty_text)
    return bytes(pdf.output())


def tpl_en_eu(s: Spec) -> bytes:
    """English in euros: `Invoice No.`, `Date of issue`, `Payment due`, `Invoice to`, VAT, Total (incl. VAT)."""
    pdf = _pdf()
    _lines(pdf, 120, _issuer_lines(s, False), bold_first=True)
    pdf.set_xy(15, 15)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(80, 10, "Invoice")
    pdf.set_xy(15, 28)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Invoice No. {s.number}")
    pdf.ln(6)
    pdf.cell(0, 6, f"Date of issue: {s.d(s.issue)}")
    pdf.ln(6)
    if s.due:
        pdf.cell(0, 6, f"Payment due: {s.d(s.due)}")
        pdf.ln(6)
    pdf.set_y(65)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, "Invoice to:")
    pdf.ln(6)
    _lines(pdf, 15, _debtor_lines(s, fr=False))
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Subject: {s.service}")
    pdf.ln(9)
    _items_table(pdf, s, False, borders=True)
    _totals(pdf, s, [("Total (excl. VAT)", s.before_tax), (f"VAT {s.tax_rate}%", s.tax), ("Total (incl. VAT)", s.total)])
    _footer(pdf, s, False)
    return bytes(pdf.output())


def tpl_fr_statement(s: Spec) -> bytes:
    """A statement of several unpaid invoices: one row per invoice, a grand total."""
    pdf = _pdf()
    _lines(pdf, 15, _issuer_lines(s, True), bold_first=True)
    pdf.set_xy(110, 15)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(80, 5, "Client :")
    pdf.ln(5)
    _lines(pdf, 110, _debtor_lines(s, fr=True))
    pdf.set_y(max(pdf.get_y() + 8, 85))
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Relevé de factures impayées")
    pdf.ln(12)
    widths = [40, 35, 35, 40]
    pdf.set_font("Helvetica", "B", 9)
    for head, w in zip(["N° facture", "Date", "Échéance", "Montant TTC"], widths):
        pdf.cell(w, 7, head, border="B", align="R" if head == "Montant TTC" else "L")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 9)
    for number, issued, due, amount in s.statement:
        pdf.cell(widths[0], 6, number)
        pdf.cell(widths[1], 6, s.d(issued))
        pdf.cell(widths[2], 6, s.d(due))
        pdf.cell(widths[3], 6, s.m(amount), align="R")
        pdf.ln(6)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(110, 7, "Total dû :", align="R")
    pdf.cell(40, 7, s.m(s.total), align="R")
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 5, f"Objet : {s.service}")
    _footer(pdf, s, True)
    return bytes(pdf.output())


def tpl_fr_letter(s: Spec) -> bytes:
    """A reminder letter naming several invoices on one line: `Factures n° A, B et C`."""
    pdf = _pdf()
    _lines(pdf, 15, _issuer_lines(s, True), bold_first=True)
    pdf.set_xy(115, 50)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 5, "Facturé à :")
    pdf.ln(5)
    _lines(pdf, 115, _debtor_lines(s, fr=True, contact_line=False))
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"{s.city}, le {s.d(s.issue)}")
    pdf.ln(10)
    others = s.numbers[:-1]
    pdf.cell(0, 6, f"Factures n° {', '.join(others)} et {s.numbers[-1]}")
    pdf.ln(6)
    if s.due:
        pdf.cell(0, 6, f"Échéance : {s.d(s.due)}")
        pdf.ln(6)
    pdf.cell(0, 6, f"Objet : {s.service}")
    pdf.ln(8)
    pdf.multi_cell(0, 5, "Madame, Monsieur, sauf erreur de notre part, les factures ci-dessus restent impayées.")
    pdf.ln(4)
    for label, value in (("Total HT", s.before_tax), ("Total TVA", s.tax), ("Total TTC", s.total)):
        pdf.set_x(110)
        pdf.cell(45, 6, f"{label} :")
        pdf.cell(35, 6, s.m(value), align="R")
        pdf.ln(6)
    _footer(pdf, s, True)
    return bytes(pdf.output())


def tpl_fr_letter_long(s: Spec) -> bytes:
    """A long-form French letter: `Lyon, le 29 juillet 2026`, the client on one line (`Client : X, 11 rue …, 31000
    Toulouse — N° SIRET client : …`), an inline contact line (`Contact : Name <email>, phone` or
    `À l'attention de : Name · email · phone`), amounts in the prose's closing block."""
    pdf = _pdf()
    _lines(pdf, 15, _issuer_lines(s, True), bold_first=True)
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"{s.issuer[3]}, le {s.d(s.issue)}", align="R")
    pdf.ln(10)
    client = f"Client : {s.debtor}, {s.street}, {s.postal} {s.city}"
    if s.siret:
        client += f" — N° SIRET client : {s.siret}"
    pdf.cell(0, 6, client)
    pdf.ln(6)
    details = [x for x in (s.email, s.phone[0] if s.phone else None) if x]
    if s.contact_style == "attn":
        pdf.cell(0, 6, " · ".join([f"À l'attention de : {s.contact_first} {s.contact_last}", *details]))
    else:
        line = f"Contact : {s.contact_first} {s.contact_last}"
        if s.email:
            line += f" <{s.email}>"
        if s.phone:
            line += f", {s.phone[0]}"
        pdf.cell(0, 6, line)
    pdf.ln(10)
    pdf.cell(0, 6, f"Objet : {s.service}")
    pdf.ln(8)
    pdf.multi_cell(0, 5, f"Madame, Monsieur, veuillez trouver ci-joint notre facture n° {s.number} relative à la "
                         "prestation citée en objet, dont le détail figure ci-dessous.")
    pdf.ln(3)
    if s.due:
        pdf.cell(0, 6, f"Date d'échéance : {s.d(s.due)}")
        pdf.ln(8)
    for label, value in (("Montant HT", s.before_tax), (f"TVA ({s.tax_rate} %)", s.tax), ("Montant TTC", s.total)):
        pdf.set_x(110)
        pdf.cell(45, 6, f"{label} :")
        pdf.cell(35, 6, s.m(value), align="R")
        pdf.ln(6)
    pdf.ln(4)
    pdf.multi_cell(0, 5, "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations distinguées.")
    _footer(pdf, s, True)
    return bytes(pdf.output())


def _eu_debtor_lines(s: Spec) -> list[str]:
    w = WORDS[s.language]
    lines = [s.debtor, s.street, f"{s.postal} {s.city}", EU[s.language]["country"][1]]
    if s.contact_style != "none":
        lines.append(f"{w['contact']}: {s.contact_first} {s.contact_last}")
    if s.email:
        lines.append(f"{w['email']}: {s.email}")
    if s.phone:
        lines.append(f"{w['phone']}: {s.phone[0]}")
    return lines


def _eu_footer(pdf, s: Spec) -> None:
    pdf.set_auto_page_break(False)
    pdf.set_y(-25)
    pdf.set_font("Helvetica", "", 7.5)
    w = WORDS[s.language]
    if s.terms:
        pdf.cell(0, 4, f"{w['terms']}: {s.terms}")
        pdf.ln(5)
    pdf.cell(0, 4, f"{s.issuer[0]} - {s.issuer_vat} - IBAN {s.issuer_iban}", align="C")


def tpl_eu_table(s: Spec) -> bytes:
    """German, Dutch, Spanish or Italian: facts as `Label: value` on the right, the bill-to heading block on the
    left, an item table, totals, the terms and the issuer's VAT id and IBAN in the footer."""
    w = WORDS[s.language]
    pdf = _pdf()
    top = pdf.get_y()
    _lines(pdf, 15, _issuer_lines(s, False)[:3], bold_first=True)
    pdf.set_xy(120, top)
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(75, 10, w["title"], align="R")
    pdf.set_xy(120, top + 14)
    pdf.set_font("Helvetica", "", 10)
    facts = [(w["number"], s.number), (w["issue"], s.d(s.issue))] + ([(w["due"], s.d(s.due))] if s.due else [])
    for label, value in facts:
        pdf.set_x(120)
        pdf.cell(40, 6, f"{label}:")
        pdf.cell(35, 6, value, align="R")
        pdf.ln(6)
    pdf.set_y(62)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 6, f"{w['bill_to']}:")
    pdf.ln(6)
    _lines(pdf, 15, _eu_debtor_lines(s))
    pdf.ln(8)
    heads = w["items"]
    widths = [95, 20, 32, 33]
    pdf.set_font("Helvetica", "B", 9)
    for head, width in zip(heads, widths):
        pdf.cell(width, 7, head, border="B", align="L" if head == heads[0] else "R")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 9)
    for desc, qty, unit in s.items:
        pdf.cell(widths[0], 6.5, desc)
        pdf.cell(widths[1], 6.5, f"{qty}", align="R")
        pdf.cell(widths[2], 6.5, s.m(unit), align="R")
        pdf.cell(widths[3], 6.5, s.m((qty * unit).quantize(CENT)), align="R")
        pdf.ln(6.5)
    pdf.ln(3)
    _totals(pdf, s, [(w["before"], s.before_tax), (w["tax"].format(rate=s.tax_rate), s.tax), (w["total"], s.total)])
    _eu_footer(pdf, s)
    return bytes(pdf.output())


def tpl_de_window(s: Spec) -> bytes:
    """A German business letter (DIN 5008): the sender line above the envelope window, the recipient block with no
    heading, an information block on the right (`Rechnungsnr.  4711`, no colons), `Fällig am`, a salutation."""
    pdf = _pdf()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 6, s.issuer[0], align="R")
    pdf.set_xy(20, 45)
    pdf.set_font("Helvetica", "", 7)
    pdf.cell(85, 4, f"{s.issuer[0]} - {s.issuer[1]} - {s.issuer[2]} {s.issuer[3]}")
    pdf.set_xy(20, 52)
    lines = [s.debtor]
    if s.contact_style != "none":
        lines.append(f"z. Hd. {s.contact_first} {s.contact_last}")
    lines += [s.street, f"{s.postal} {s.city}", EU["de"]["country"][1]]
    _lines(pdf, 20, lines, size=10, h=5)
    pdf.set_xy(125, 50)
    pdf.set_font("Helvetica", "", 9)
    facts = [("Rechnungsnr.", s.number), ("Rechnungsdatum", s.d(s.issue))]
    if s.due:
        facts.append(("Fällig am", s.d(s.due)))
    facts.append(("Ihr Kontakt", s.issuer_email))  # the information block names the sender's contact
    for label, value in facts:
        pdf.set_x(125)
        pdf.cell(30, 5, label)
        pdf.cell(45, 5, value)
        pdf.ln(5)
    pdf.set_y(100)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, f"Rechnung {s.number}")
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(0, 5, "Sehr geehrte Damen und Herren, für unsere Leistungen erlauben wir uns, Ihnen Folgendes "
                         "in Rechnung zu stellen:")
    pdf.ln(4)
    heads = WORDS["de"]["items"]
    widths = [95, 20, 32, 33]
    pdf.set_font("Helvetica", "B", 9)
    for head, width in zip(heads, widths):
        pdf.cell(width, 7, head, border="B", align="L" if head == heads[0] else "R")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 9)
    for desc, qty, unit in s.items:
        pdf.cell(widths[0], 6.5, desc)
        pdf.cell(widths[1], 6.5, f"{qty}", align="R")
        pdf.cell(widths[2], 6.5, s.m(unit), align="R")
        pdf.cell(widths[3], 6.5, s.m((qty * unit).quantize(CENT)), align="R")
        pdf.ln(6.5)
    pdf.ln(3)
    _totals(pdf, s, [("Summe netto", s.before_tax), (f"zzgl. {s.tax_rate} % USt.", s.tax),
                     ("Rechnungsbetrag", s.total)])
    _eu_footer(pdf, s)
    return bytes(pdf.output())


TEMPLATES: dict[str, tuple[Callable[[Spec], bytes], str]] = {
    "fr_table": (tpl_fr_table, "fr"),
    "fr_two_column": (tpl_fr_two_column, "fr"),
    "minimal_fr": (tpl_minimal, "fr"),
    "minimal_en": (tpl_minimal, "en"),
    "us": (tpl_us, "en"),
    "en_eu": (tpl_en_eu, "en"),
    "fr_statement": (tpl_fr_statement, "fr"),
    "fr_letter": (tpl_fr_letter, "fr"),
    "fr_letter_long": (tpl_fr_letter_long, "fr"),
    "de_table": (tpl_eu_table, "de"),
    "de_window": (tpl_de_window, "de"),
    "nl_table": (tpl_eu_table, "nl"),
    "es_table": (tpl_eu_table, "es"),
    "it_table": (tpl_eu_table, "it"),
}


# --- scans -----------------------------------------------------------------------------------------------------
def scan(pdf_bytes: bytes, rng: random.Random, *, dpi: int = 200) -> bytes:
    """Render page 1 to a grey image, rotate it slightly, sprinkle dark specks, wrap it in a PDF with no text."""
    import pypdfium2 as pdfium
    from fpdf import FPDF
    from PIL import Image

    doc = pdfium.PdfDocument(pdf_bytes)
    image = doc[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    doc.close()
    image = image.rotate(rng.uniform(-0.6, 0.6), resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    noise = Image.frombytes("L", image.size, rng.randbytes(image.size[0] * image.size[1]))
    specks = noise.point(lambda v: 255 if v < 1 else 0)  # ~0.4 % of pixels: dust and toner dots
    image.paste(110, mask=specks)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=80)
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()
    pdf.image(io.BytesIO(buf.getvalue()), x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


# --- corpus ------------------------------------------------------------------------------------------------------
PLAN: list[tuple[str, set[str]]] = [
    ("fr_table", set()), ("fr_two_column", set()), ("minimal_fr", set()), ("us", set()), ("en_eu", set()),
    ("fr_statement", set()), ("fr_letter", set()), ("minimal_en", set()),
    ("fr_table", {"no_due"}), ("fr_two_column", {"no_email"}), ("minimal_fr", {"no_phone"}),
    ("us", {"no_phone"}), ("en_eu", {"invalid_siret"}), ("fr_table", {"invalid_siret"}),
    ("fr_two_column", {"big"}), ("fr_table", {"big", "no_phone"}), ("en_eu", {"big", "no_email"}),
    ("us", {"big"}), ("minimal_en", {"no_due"}), ("fr_two_column", {"invalid_siret", "no_due"}),
    ("fr_statement", {"big"}), ("fr_letter", {"no_email"}), ("fr_table", {"no_email", "no_phone"}),
    ("minimal_fr", {"big", "no_due"}), ("en_eu", set()), ("us", {"no_email"}), ("fr_two_column", set()),
    ("fr_table", {"big"}), ("fr_letter", {"big"}), ("minimal_en", {"big"}),
    # scans (OCR path)
    ("fr_table", {"scan"}), ("fr_two_column", {"scan", "no_phone"}), ("us", {"scan"}), ("minimal_fr", {"scan"}),
    # long invoices: the item table runs onto page 2, totals and terms end up there
    ("fr_table", {"long"}), ("us", {"long", "big"}), ("fr_two_column", {"long", "no_due"}),
]
# Layouts added later (the French long letter of the accuracy report, German, Dutch, Spanish, Italian): drawn from
# their own seeded stream so the cases above stay byte for byte the same.
LATER_PLAN: list[tuple[str, set[str]]] = [
    ("fr_letter_long", set()), ("fr_letter_long", {"attn"}), ("fr_letter_long", {"no_due", "attn"}),
    ("fr_letter_long", {"no_phone", "big"}),
    ("de_table", set()), ("de_table", {"no_due"}), ("de_window", {"heuristic_debtor", "no_email", "no_phone"}),
    ("de_window", {"heuristic_debtor", "no_email", "no_phone", "no_due"}),
    ("nl_table", set()), ("nl_table", {"big"}), ("es_table", set()), ("es_table", {"no_phone"}),
    ("it_table", set()), ("it_table", {"big"}),
]
EU_ISSUERS = {
    "de": ("Technik Service Nord GmbH", "Industriestraße 8", "28199", "Bremen"),
    "nl": ("Noordzee Software B.V.", "Havenstraat 3", "2513 AB", "Den Haag"),
    "es": ("Servicios Integrales Levante S.L.", "Calle Colón 22", "46004", "Valencia"),
    "it": ("Studio Tecnico Verdi S.r.l.", "Via Manzoni 14", "20121", "Milano"),
}
EU_DATE_STYLES = {"de": ["de_long", "de_num", "de_short"], "nl": ["nl_long", "nl_num"], "es": ["es_long", "eu_slash"],
                  "it": ["it_long", "eu_slash"]}


def make_phone(rng: random.Random, prefix: str) -> tuple[str, str]:
    """(as printed, E.164) for an international prefix such as `+49 30`."""
    from cleavr_mcp.cleavr.validation import normalize_phone

    while True:
        digits = "".join(str(rng.randint(0, 9)) for _ in range(11 - len(prefix.replace(" ", "").lstrip("+"))))
        printed = f"{prefix} {digits[:3]} {digits[3:]}"
        e164 = normalize_phone(printed)
        if e164:
            return printed, e164


def _spec_later(rng: random.Random, template: str, language: str, tags: set[str], index: int) -> Spec:
    """A spec for the later layouts: the French long letter reuses the French pools, the others their country's."""
    if language == "fr":
        spec = _spec(rng, "fr_table", "fr", tags, index)
        spec.contact_style = "attn" if "attn" in tags else "line"
        spec.date_style = "fr_long"
        return spec
    pool = EU[language]
    issue = date(2023, 1, 2) + timedelta(days=rng.randint(0, 700))
    due = issue + timedelta(days=rng.choice([14, 30, 60])) if "no_due" not in tags else None
    descs = rng.sample(pool["items"], rng.randint(1, 3))
    scale = 10 if "big" in tags else 1
    items = [(d, Decimal(rng.randint(1, 9)), (Decimal(rng.randint(4000, 95000)) * scale / 100).quantize(CENT))
             for d in descs]
    before = sum((q * u).quantize(CENT) for _, q, u in items)
    if "big" in tags and before < 1000:
        before += 1000
        items.append(("Setup", Decimal(1), Decimal("1000.00")))
    rate = Decimal(pool["tax_rate"])
    tax = (before * rate / 100).quantize(CENT, ROUND_HALF_UP)
    first, last = rng.choice(pool["first"]), rng.choice(pool["last"])
    debtor = rng.choice(pool["debtors"])
    postal, city, phone_prefix = rng.choice(pool["cities"])
    domain = ascii_slug(debtor.split()[0]) + pool["tld"]
    email = f"{ascii_slug(first)}.{ascii_slug(last).replace(' ', '')}@{domain}"
    number = f"{rng.choice(['RE', 'F', 'FA', '2024/'])}{rng.randint(1000, 99999)}"
    issuer = EU_ISSUERS[language]
    return Spec(
        language=language, currency="EUR", number=number, numbers=[number], issue=issue, due=due, items=items,
        tax_rate=pool["tax_rate"], before_tax=before, tax=tax, total=before + tax, debtor=debtor,
        street=rng.choice(pool["streets"]), postal=postal, city=city, country=pool["country"][0],
        contact_first=first, contact_last=last, email=None if "no_email" in tags else email,
        phone=None if "no_phone" in tags else make_phone(rng, phone_prefix), siret=None, siret_valid=True, vat=None,
        issuer=issuer, issuer_siret=make_siret(rng), issuer_email=f"info@{ascii_slug(issuer[0].split()[0])}{pool['tld']}",
        issuer_phone=make_phone(rng, pool["cities"][0][2])[0], service=descs[0], terms=rng.choice(pool["terms"]),
        penalty_text=None, penalty_rate=None, money_style="fr_dot", date_style=rng.choice(EU_DATE_STYLES[language]),
        contact_style="line", issuer_vat=f"{pool['country'][0]}{rng.randint(100000000, 999999999)}",
        issuer_iban=f"{pool['country'][0]}{rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} "
                    f"{rng.randint(1000, 9999)} {rng.randint(10, 99)}",
    )


def _spec(rng: random.Random, template: str, language: str, tags: set[str], index: int) -> Spec:
    us = template == "us"
    fr = language == "fr"
    currency = "USD" if us else "EUR"
    issue = date(2023, 1, 2) + timedelta(days=rng.randint(0, 700))
    due = issue + timedelta(days=rng.choice([15, 30, 45, 60])) if "no_due" not in tags else None
    n_items = rng.randint(1, 3)
    pool = ITEMS_EN if language == "en" else ITEMS_FR
    descs = rng.sample(pool, n_items)
    if "long" in tags:
        descs += [f"{rng.choice(pool)} ({'lot' if fr else 'batch'} {k})" for k in range(2, rng.randint(32, 40))]
    scale = 10 if "big" in tags else 1
    items = [
        (d, Decimal(rng.randint(1, 12)), (Decimal(rng.randint(4000, 95000)) * scale / 100).quantize(CENT))
        for d in descs
    ]
    before = sum((q * u).quantize(CENT) for _, q, u in items)
    rate = Decimal(rng.choice(["20", "20", "10", "5.5"])) if not us else Decimal(rng.choice(["8.25", "6.5", "7"]))
    if "big" in tags and before < 1000:
        before += 1000
        items.append(("Frais de mise en service" if fr else "Setup fee", Decimal(1), Decimal("1000.00")))
    tax = (before * rate / 100).quantize(CENT, ROUND_HALF_UP)
    total = before + tax
    if us:
        first, last = rng.choice(FIRST_US), rng.choice(LAST_US)
        debtor = rng.choice(DEBTORS_US)
        city, state, postal, area = rng.choice(CITIES_US)
        street, country, city_field = rng.choice(STREETS_US), "US", f"{city}, {state}"
        phone = make_phone_us(rng, area)
        issuer = rng.choice(ISSUERS_EN)
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        debtor = rng.choice(DEBTORS_FR)
        postal, city_field = rng.choice(CITIES_FR)
        street, country = rng.choice(STREETS_FR), "FR"
        phone = make_phone_fr(rng)
        issuer = rng.choice(ISSUERS_FR)
    domain = ascii_slug(debtor.rsplit(" ", 1)[0]) + (".com" if us else ".fr")
    email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"
    siret_valid = "invalid_siret" not in tags
    siret = make_siret(rng, siret_valid) if not us else None
    vat = vat_for(siret) if siret and siret_valid and rng.random() < 0.7 else None
    prefix = rng.choice(["F", "FA", "INV", "2024-", "FAC-"])
    number = f"{prefix}{'' if prefix.endswith('-') else '-'}{issue.year}-{rng.randint(1, 9999):04d}"
    if template == "us":
        number = str(rng.randint(1000, 99999))
    if rng.random() < 0.5 and not us:
        terms = rng.choice(TERMS_FR if fr else TERMS_EN)
    else:
        terms = rng.choice(TERMS_EN) if not fr else None
    penalty_rate: Decimal | None = None
    penalty_text = None
    choice = rng.randrange(4)
    if fr:
        if choice == 0:
            penalty_rate = Decimal(rng.choice(["10", "12", "15"]))
            penalty_text = f"Pénalités de retard : {penalty_rate} % par an. Indemnité forfaitaire de recouvrement : 40 €."
        elif choice == 1:
            penalty_rate = Decimal(rng.choice(["10", "12"]))
            penalty_text = (f"Tout retard de paiement entraînera des pénalités au taux annuel de {penalty_rate} %, "
                            "ainsi qu'une indemnité forfaitaire de 40 €.")
        elif choice == 2:
            penalty_text = "Taux des pénalités de retard : trois fois le taux d'intérêt légal."
    else:
        if choice == 0:
            penalty_rate = Decimal("12")
            penalty_text = "Late payment interest: 12% per annum."
        elif choice == 1:
            penalty_rate = Decimal("18")
            penalty_text = "A late fee of 1.5% per month applies to overdue balances."
    money_style = "en" if language == "en" else rng.choice(["fr", "fr", "fr_dot"])
    if us:
        date_style = rng.choice(["us_num", "en_long"])
    elif language == "en":
        date_style = rng.choice(["en_short", "iso", "en_long"])
    else:
        date_style = rng.choice(["fr_num", "fr_long", "iso"]) if template != "fr_table" else rng.choice(["fr_num", "iso"])
    statement: list[tuple[str, date, date, Decimal]] = []
    numbers = [number]
    if template == "fr_statement":
        count = rng.randint(2, 4)
        issue_dates = sorted(issue - timedelta(days=rng.randint(0, 90)) for _ in range(count))
        amounts = []
        for k in range(count):
            amt = (Decimal(rng.randint(20000, 400000 * scale)) / 100).quantize(CENT)
            statement.append((f"F-{issue_dates[k].year}-{1000 + index * 10 + k}", issue_dates[k],
                              issue_dates[k] + timedelta(days=30), amt))
            amounts.append(amt)
        numbers = [row[0] for row in statement]
        issue, due = issue_dates[0], issue_dates[0] + timedelta(days=30)
        total = sum(amounts)
        before = tax = None  # a statement prints only the totals due
    if template == "fr_letter":
        numbers = [f"{prefix}{'' if prefix.endswith('-') else '-'}{issue.year}-{rng.randint(1, 9999):04d}" for _ in range(rng.randint(2, 3))]
        numbers = list(dict.fromkeys(numbers))
        if len(numbers) < 2:
            numbers.append(numbers[0] + "B")
    service = descs[0] if template != "fr_statement" else "Prestations de maintenance"
    return Spec(
        language=language, currency=currency, number=numbers[0], numbers=numbers, issue=issue, due=due,
        items=items, tax_rate=(str(rate).replace(".", ",") if fr else str(rate)),
        before_tax=before, tax=tax, total=total, debtor=debtor, street=street, postal=postal if not us else f"{state} {postal}",
        city=city_field if not us else city, country=country, contact_first=first, contact_last=last,
        email=None if "no_email" in tags else email, phone=None if "no_phone" in tags else phone,
        siret=siret, siret_valid=siret_valid, vat=vat, issuer=issuer, issuer_siret=make_siret(rng),
        issuer_email=f"contact@{ascii_slug(issuer[0].split()[0])}.fr" if not us else "billing@" + ascii_slug(issuer[0].split()[0]) + ".com",
        issuer_phone=make_phone_fr(rng)[0] if not us else make_phone_us(rng, "415")[0],
        service=service, terms=terms, penalty_text=penalty_text, penalty_rate=penalty_rate,
        money_style=money_style, date_style=date_style, statement=statement,
    )


def _truth(s: Spec, template: str) -> dict[str, Any]:
    t: dict[str, Any] = {
        "invoice.numbers": s.numbers,
        "invoice.issue_date": s.issue,
        "invoice.due_date": s.due,
        "invoice.amount": s.total,
        "invoice.amount_before_tax": s.before_tax if template not in ("minimal_fr", "minimal_en") else None,
        "invoice.tax_amount": s.tax if template not in ("minimal_fr", "minimal_en") else None,
        "invoice.currency": s.currency,
        "invoice.service_description": s.service,
        "invoice.payment_terms": s.terms,
        "invoice.late_penalty_rate": s.penalty_rate,
        "debtor.company_name": s.debtor,
        "debtor.address.line1": s.street,
        "debtor.address.postal_code": s.postal.split()[-1] if s.country == "US" else s.postal,
        "debtor.address.city": f"{s.city}, {s.postal.split()[0]}" if s.country == "US" else s.city,
        "debtor.address.country": s.country,
        "debtor.contacts[0].email": s.email,
        "debtor.contacts[0].phone": s.phone[1] if s.phone else None,
    }
    if template not in ("us",):
        t["debtor.siret"] = s.siret
        t["debtor.vat_number"] = s.vat
    if template in ("fr_table", "en_eu", "us", "fr_two_column", "fr_letter_long", "de_table", "nl_table",
                    "es_table", "it_table", "de_window"):
        t["debtor.contacts[0].first_name"] = s.contact_first
        t["debtor.contacts[0].last_name"] = s.contact_last
    if template == "fr_letter_long":
        t["debtor.vat_number"] = None  # not printed in this layout
    return t


def generate_corpus(seed: int = DEFAULT_SEED) -> list[Case]:
    rng = random.Random(seed)
    later_rng = random.Random(seed + 1)
    cases = []
    for index, (template, tags) in enumerate(PLAN + LATER_PLAN):
        render, language = TEMPLATES[template]
        if index < len(PLAN):
            spec = _spec(rng, template, language, tags, index)
        else:
            spec = _spec_later(later_rng, template, language, tags, index)
        pdf = render(spec)
        scanned = "scan" in tags
        if scanned:
            pdf = scan(pdf, rng)
        warnings = {"debtor.siret"} if "invalid_siret" in tags and template != "us" else set()
        if spec.currency != "EUR":
            warnings.add("invoice.currency")
        cases.append(Case(
            name=f"{index:02d}_{template}{'_' + '_'.join(sorted(tags)) if tags else ''}",
            pdf=pdf, truth=_truth(spec, template), template=template, language=language, scanned=scanned,
            tags=set(tags), expected_warnings=warnings,
        ))
    return cases


def main(argv: list[str]) -> None:
    out = Path(argv[1] if len(argv) > 1 else "generated-invoices")
    out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for case in generate_corpus():
        (out / f"{case.name}.pdf").write_bytes(case.pdf)
        truth[case.name] = case.truth
    (out / "truth.json").write_text(json.dumps(truth, indent=2, default=str, ensure_ascii=False))
    print(f"{len(truth)} PDFs written to {out}")


if __name__ == "__main__":
    main(sys.argv)
