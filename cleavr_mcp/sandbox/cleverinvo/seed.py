"""Demo data of the CleverInvo sandbox, deterministic relative to `today`.

12 clients and 40 invoices across every status. Past-due invoices are overdue by 5 to 700 days, so every
commission tier of the Cleavr contract is covered (0–44, 45–89, 90–179, 180–364, 365–546, 547+). The tricky
cases the mapping must handle are all here: clients without phone or email, SIRET / SIREN / FR VAT / foreign /
bad-checksum tax ids, French and international phones in messy formats (one invalid), addresses in several
layouts, USD invoices, PARTIALLY_PAID invoices with `amountPaid`, a soft-deleted client with an overdue invoice.

With the Cleavr side empty, `RECOVERABLE_SEED_INVOICES` (20) of the invoices are recoverable today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

ISSUER = {
    "name": "Atelier Numérique SAS",
    "legal_form": "SAS au capital de 10 000 €, RCS Lyon 812 345 676",
    "address": "8 rue des Lilas\n69003 Lyon",
    "siret": "81234567600017",
    "vat_number": "FR19812345676",
    "email": "factures@atelier-numerique.example",
    "phone": "+33 4 78 00 00 00",
    "iban": "FR76 3000 6000 0112 3456 7890 189",
}


@dataclass(frozen=True)
class SeedClient:
    key: str
    name: str
    email: str | None
    phone: str | None
    address: str | None
    tax_id: str | None
    notes: str | None = None
    active: bool = True


CLIENTS: tuple[SeedClient, ...] = (
    SeedClient("martin", "Boulangerie Martin SARL", "compta@boulangerie-martin.example", "06 12 34 56 78",
               "12 rue de la Paix, 75002 Paris", "523 987 410 00025", "Paiement à 30 jours"),  # SIRET, spaces
    SeedClient("dupont", "Dupont & Fils SAS", "factures@dupont-fils.example", "+33 (0)6 98-76-54-32",
               "45 avenue Jean Jaurès 69007 LYON France", "FR 83 448 712 356"),  # FR VAT, no commas
    SeedClient("cafe", "Café des Arts", "contact@cafe-des-arts.example", None,
               "3 place Bellecour, 69002 Lyon", "901 276 543"),  # SIREN, no phone
    SeedClient("garage", "Garage Lefèvre", None, "04 78 12 34 56",
               "Zone artisanale, 7 chemin des Prés, 44000 Nantes", "398.456.129.00046"),  # no email, SIRET dots
    SeedClient("acme", "Acme Corp", "ap@acme.example", "+1-555-0100",
               "123 Main St, New York, NY 10001", "US-123456789", "Net 30 terms"),  # invalid phone, USD
    SeedClient("thames", "Thames Digital Ltd", "accounts@thames-digital.example", "+44 20 7946 0958",
               "10 Downing St, London SW1A 2AA, UK", "GB123456789"),  # foreign tax id, invoiced in EUR
    SeedClient("papillon", "Librairie Papillon", "librairie.papillon@example.fr", "05 56 12 34 56",
               "27 rue Victor Hugo\n33000 Bordeaux", None),  # multi-line address, no tax id
    SeedClient("boisdor", "Menuiserie Bois d'Or", None, None,
               "Lieu-dit Les Granges, 24200 Sarlat-la-Canéda", "12345678901234"),  # no email/phone, bad SIRET
    SeedClient("rousseau", "Cabinet Rousseau Avocats", "cabinet@rousseau-avocats.example", "+33 1 42 68 53 00",
               "Bâtiment C, 18 boulevard Haussmann, 75009 Paris", "FR55852369149"),  # FR VAT, line2 first
    SeedClient("eclat", "Nettoyage Éclat SAS", "compta@nettoyage-eclat.example", "+33 (0)6 12-34-56-78",
               "5 quai Saint-Antoine, 69002 Lyon, France", "47512398000017"),  # SIRET
    SeedClient("rivage", "Hôtel Beau Rivage", "direction@beau-rivage.example", "04.93.00.00.01",
               "1 promenade des Anglais, 06000 Nice", "661234591"),  # SIREN, dotted phone
    SeedClient("brasserie", "Brasserie du Port", "gerant@brasserie-du-port.example", "02 98 44 12 34",
               "Quai de la Douane, 29200 Brest", "30765432700013", active=False),  # soft-deleted
)

# Line-item catalogue: (description, quantity, unit price, tax rate %)
_WEB = ("Développement site vitrine", "1", "2400.00", "20")
_MAINT = ("Maintenance mensuelle", "3", "180.00", "20")
_SEO = ("Audit SEO (jours)", "2", "650.00", "20")
_DESIGN = ("Création identité visuelle", "1", "1850.00", "20")
_HOSTING = ("Hébergement annuel", "1", "240.00", "20")
_TRAINING = ("Formation équipe (demi-journées)", "4", "420.00", "20")
_BOOKS = ("Catalogue imprimé (exemplaires)", "250", "3.20", "5.5")
_EVENT = ("Animation soirée d'entreprise", "1", "1500.00", "10")
_CONSULT = ("Conseil stratégie numérique (heures)", "12", "95.00", "20")
_APP = ("Développement application mobile", "1", "8900.00", "20")
_EXPORT = ("Web platform development (days)", "15", "600.00", "0")
_US_DEV = ("Web Development (hours)", "40", "125.00", "0")
_PHOTO = ("Reportage photo", "1", "780.00", "20")


@dataclass(frozen=True)
class SeedInvoice:
    client: str
    status: str
    days_overdue: int  # today - due date (negative: due in the future)
    lines: tuple[tuple[str, str, str, str], ...]
    currency: str = "EUR"
    terms_days: int = 30
    paid: str | None = None  # amountPaid for PARTIALLY_PAID ("all" for PAID)
    notes: str | None = None
    terms: str | None = None


_REVERSE_CHARGE = "Autoliquidation : TVA due par le preneur (art. 283-2 du CGI)."
INVOICES: tuple[SeedInvoice, ...] = (
    # OVERDUE, one per tier boundary and then some (EUR unless said otherwise)
    SeedInvoice("martin", "OVERDUE", 5, (_MAINT,)),
    SeedInvoice("dupont", "OVERDUE", 12, (_SEO, _CONSULT)),
    SeedInvoice("cafe", "OVERDUE", 30, (_DESIGN,)),  # no phone
    SeedInvoice("rousseau", "OVERDUE", 44, (_WEB, _HOSTING)),
    SeedInvoice("eclat", "OVERDUE", 45, (_TRAINING,)),
    SeedInvoice("martin", "OVERDUE", 60, (_WEB,), terms_days=45),
    SeedInvoice("thames", "OVERDUE", 89, (_EXPORT,), notes=_REVERSE_CHARGE),
    SeedInvoice("garage", "OVERDUE", 90, (_PHOTO, _HOSTING)),  # no email: blocked
    SeedInvoice("rivage", "OVERDUE", 150, (_EVENT, _PHOTO)),
    SeedInvoice("dupont", "OVERDUE", 180, (_APP,), terms_days=60),
    SeedInvoice("papillon", "OVERDUE", 250, (_BOOKS,)),
    SeedInvoice("rousseau", "OVERDUE", 364, (_CONSULT,)),
    SeedInvoice("eclat", "OVERDUE", 365, (_MAINT, _SEO)),
    SeedInvoice("boisdor", "OVERDUE", 400, (_DESIGN,)),  # no email, no phone, bad SIRET: blocked
    SeedInvoice("cafe", "OVERDUE", 546, (_PHOTO,)),
    SeedInvoice("brasserie", "OVERDUE", 547, (_EVENT,)),  # client soft-deleted since
    SeedInvoice("rivage", "OVERDUE", 700, (_WEB, _TRAINING)),
    SeedInvoice("acme", "OVERDUE", 120, (_US_DEV,), currency="USD", terms="Net 30"),  # USD: blocked
    # SENT
    SeedInvoice("martin", "SENT", -20, (_HOSTING,)),  # not yet due
    SeedInvoice("papillon", "SENT", 15, (_PHOTO,)),  # past due, status never updated
    SeedInvoice("thames", "SENT", 75, (_EXPORT,), notes=_REVERSE_CHARGE),
    SeedInvoice("acme", "SENT", 40, (_US_DEV,), currency="USD", terms="Net 30"),  # USD: blocked
    SeedInvoice("eclat", "SENT", 0, (_CONSULT,)),  # due today: not yet due
    SeedInvoice("dupont", "SENT", -5, (_MAINT,)),
    # VIEWED
    SeedInvoice("rousseau", "VIEWED", -10, (_SEO,)),
    SeedInvoice("rivage", "VIEWED", 33, (_HOSTING, _MAINT)),  # past due
    SeedInvoice("garage", "VIEWED", 200, (_DESIGN,)),  # past due, no email: blocked
    SeedInvoice("cafe", "VIEWED", -30, (_TRAINING,)),
    # PARTIALLY_PAID (amountPaid is a sandbox extension)
    SeedInvoice("dupont", "PARTIALLY_PAID", 95, (_WEB, _DESIGN), paid="2000.00"),
    SeedInvoice("eclat", "PARTIALLY_PAID", 20, (_APP,), paid="5340.00"),
    SeedInvoice("martin", "PARTIALLY_PAID", -3, (_SEO,), paid="500.00"),  # not yet due
    # PAID
    SeedInvoice("martin", "PAID", 90, (_DESIGN,), paid="all"),
    SeedInvoice("dupont", "PAID", 30, (_HOSTING,), paid="all"),
    SeedInvoice("rousseau", "PAID", 200, (_WEB,), paid="all"),
    SeedInvoice("thames", "PAID", 120, (_EXPORT,), paid="all", notes=_REVERSE_CHARGE),
    SeedInvoice("acme", "PAID", 300, (_US_DEV,), currency="USD", paid="all"),
    SeedInvoice("papillon", "PAID", 10, (_BOOKS,), paid="all"),
    # DRAFT
    SeedInvoice("papillon", "DRAFT", -30, (_BOOKS, _PHOTO)),
    SeedInvoice("rivage", "DRAFT", -30, (_EVENT,)),
    SeedInvoice("acme", "DRAFT", -30, (_US_DEV,), currency="USD"),
)

RECOVERABLE_SEED_INVOICES = 20
"""OVERDUE with an email and in EUR (15) + SENT past due (2) + VIEWED past due with email (1) + PARTIALLY_PAID
past due (2). Blocked although past due: 3 without an email, 2 in USD."""


def due_and_issue(spec: SeedInvoice, today: date) -> tuple[date, date]:
    due = today - timedelta(days=spec.days_overdue)
    return due, due - timedelta(days=spec.terms_days)


def as_decimal(text: str) -> Decimal:
    return Decimal(text)
