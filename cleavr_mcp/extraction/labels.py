"""French, English, German, Dutch, Spanish and Italian labels, grouped by the field they announce.

Strength is the confidence a value gets when found right beside the label: specific labels (`Date d'échéance`,
`Total TTC`) 0.92, ambiguous ones (`Total`, `Date`) 0.75–0.85. Patterns are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRONG, MEDIUM, WEAK = 0.92, 0.85, 0.75

_F = re.IGNORECASE


@dataclass(frozen=True)
class Label:
    pattern: re.Pattern
    strength: float
    name: str


def _labels(*specs: tuple[str, float]) -> list[Label]:
    # A label is whole words: `Netto` must not be read in `Nettoyage`, nor `Total` in `Totalement`.
    return [Label(re.compile(rf"(?<![\w]){p}(?![^\W\d_])", _F), s, p) for p, s in specs]


_NO = r"(?:n[°o]\.?|no\.?|nr\.?|num(?:[ée]ro|ber)|#)"
_TTC = r"t\.?\s?t\.?\s?c\.?"
_HT = r"h\.?\s?t\.?(?:va)?(?![\w])"
_INCL = r"\(?\s*(?:incl(?:uding|\.)?|inc\.|tax(?:es)?\s+incl(?:uded)?)\s*(?:vat|tax(?:es)?|tva)?\s*\)?"
_EXCL = r"\(?\s*(?:excl(?:uding|\.)?|ex\.|before|hors|net\s+of)\s*(?:vat|tax(?:es)?|tva)?\s*\)?"

INVOICE_NUMBER = _labels(
    (rf"(?:factures?|invoices?|factuur)\s*{_NO}s?\s*:?", STRONG),
    (rf"{_NO}\s*(?:de\s+)?(?:la\s+)?(?:facture|invoice)\s*:?", STRONG),
    (r"invoice\s+(?:number|no\.?|#|id)\s*:?", STRONG),
    (r"factuurnummer\s*:?", STRONG),
    (r"rechnungs[\s\-]?(?:nr\.?|nummer|no\.?)\s*:?", STRONG),
    (rf"rechnung\s*{_NO}\s*:?", STRONG),
    (rf"\w*rechnung\s*(?:\(\d{{3}}\)\s*)?{_NO}\s*:?", STRONG),
    (r"beleg(?:nummer|nr\.?)\s*:?", MEDIUM),
    (rf"(?:n[úu]mero\s+de\s+factura|factura\s*{_NO}|n[º°o]\.?\s*(?:de\s+)?factura)\s*:?", STRONG),
    (rf"(?:numero\s+(?:della\s+)?fattura|fattura\s*(?:{_NO}|n\.)|n\.\s*fattura)\s*:?", STRONG),
    (r"(?:facture|invoice|factuur)(?![\w'’])\s*:?", MEDIUM),
    (r"(?:factures|invoices)(?![\w'’])\s*:?", MEDIUM),
    # `Rechnung RE1001` / `Factura F-12`: the document's title right before its number
    (r"(?:rechnung|factura|fattura)(?=\s+[A-Za-z/\-]*\d)", MEDIUM),
)

ISSUE_DATE = _labels(
    # not `Date de facture associée` / `d'origine`: the date of another invoice this one refers to
    (r"date\s+(?:de\s+(?:la\s+)?)?(?:facture|facturation)(?!\s+(?:associ|pr[ée]c[ée]dente|d['’]origine|initiale|rectifi))"
     r"\s*:?", STRONG),
    (r"date\s+d['’]\s?[ée]mission\s*:?", STRONG),
    (r"(?:invoice|billing|issue)\s+date\s*:?", STRONG),
    (r"date\s+of\s+(?:issue|invoice)\s*:?", STRONG),
    (r"factuur\s?datum\s*:?", STRONG),
    (r"(?:issued|[ée]mise?)\s+(?:on|le)\s*:?", STRONG),
    (r"(?:rechnungs|beleg)[\s\-]?datum\s*:?", STRONG),
    (r"fecha\s+(?:de\s+)?(?:la\s+)?(?:factura|emisi[óo]n|expedici[óo]n)\s*:?", STRONG),
    (r"data\s+(?:della\s+)?(?:fattura|emissione|documento)\s*:?", STRONG),
    (r"(?:datum|fecha)\s*:?", WEAK),
    (r"data\s*:", WEAK),
    (r"date\s*:?(?!\s*(?:d['’]\s?[ée]ch|limite|de\s+(?:livraison|commande|paiement|r[èe]glement|la\s+commande|d[ée]but|fin"
     r"|prestation|facture\s+associ)|due|of\s+(?:delivery|order)|d['’]exigibilit|d[ée]but|fin))", WEAK),
    (r"(?<=,)\s*(?:le|den)(?=\s+\d)", WEAK),
)
# Words that, just before a generic `Date`, make it another date (due, order, delivery…).
NOT_ISSUE_PREFIX = re.compile(
    r"(?:due|order|delivery|payment|livraison|commande|[ée]ch[ée]ance|paiement|service|ship(?:ping)?|expiry|valid"
    r"|liefer|bestell|leistungs|auftrags|vencimiento|entrega|pedido|scadenza|consegna|ordine|verval|order)\W*$",
    _F,
)

DUE_DATE = _labels(
    (r"date\s+d['’]\s?[ée]ch[ée]ance\s*:?", STRONG),
    (r"[ée]ch[ée]ance\s*:?", STRONG),
    (r"date\s+limite(?:\s+de\s+(?:paiement|r[èe]glement))?\s*:?", STRONG),
    (r"(?:[àa]\s+)?(?:payer|r[ée]gler|payable)\s+(?:avant\s+le|au\s+plus\s+tard\s+le|le|avant)\s*:?", STRONG),
    (r"(?:payment\s+)?due\s+date\s*:?", STRONG),
    (r"date\s+due\s*:?", STRONG),
    (r"payment\s+due(?:\s+(?:on|by))?\s*:?", STRONG),
    (r"(?:due|payable|pay)\s+(?:by|on|before)\s*:?", STRONG),
    (r"vervaldatum\s*:?", STRONG),
    (r"(?:zahlungsziel|f[äa]llig(?:keitsdatum|keit)?(?:\s+(?:am|bis))?|zahlbar\s+bis(?:\s+zum)?)\s*:?", STRONG),
    (r"(?:fecha\s+(?:de\s+)?vencimiento|vencimiento)\s*:?", STRONG),
    (r"(?:zahlbar|[üu]berweisen\s+sie)(?:\s+innerhalb\s+\d{1,3}\s+tag(?:e|en)(?:\s+netto)?)?\s+bis(?:\s+(?:zum|sp[äa]testens))?\s*:?", STRONG),
    (r"(?:data\s+(?:di\s+)?scadenza|scadenza(?:\s+pagamento)?)\s*:?", STRONG),
    (r"due\s*:", MEDIUM),
)

AMOUNT = _labels(
    (rf"total\s+(?:eur\s+)?{_TTC}\s*:?", STRONG),
    (rf"montant\s+(?:total\s+)?(?:eur\s+)?{_TTC}\s*:?", STRONG),
    (r"(?:net|total|montant|reste|somme|solde)\s+(?:restant\s+)?(?:[àa]|a)\s+payer\s*:?", STRONG),
    (r"(?:montant|total|solde)\s+d[ûu](?![\w])\s*:?", STRONG),
    (r"(?:total\s+)?(?:amount|balance)\s+(?:due|payable)\s*:?", STRONG),
    (r"total\s+(?:due|payable)\s*:?", STRONG),
    (r"grand\s+total\s*:?", STRONG),
    (rf"total\s*{_INCL}\s*:?", STRONG),
    (r"invoice\s+total\s*:?", STRONG),
    (r"factuur\s*totaal\s*:?", STRONG),
    (r"te\s+betalen\s*:?", STRONG),
    (r"bedrag\s+incl(?:usief|\.)?\s*btw\s*:?", STRONG),
    (r"totaal\s+incl(?:usief|\.)?\s*btw\s*:?", STRONG),
    (r"(?:gesamt(?:betrag|summe)|rechnungs(?:betrag|summe)|endbetrag|brutto(?:betrag|summe)|zahlbetrag"
     r"|zu\s+zahlen(?:der\s+betrag)?)(?!\s+(?:der|ohne|netto|exkl|zzgl))(?:\s+\(?brutto\)?)?(?:\s+eur)?\s*:?", STRONG),
    (r"(?:summe|gesamt|total)\s+(?:brutto|inkl\.?\s*(?:mwst|ust)\.?)\s*:?", STRONG),
    (r"(?:importe\s+total|total\s+(?:a\s+pagar|factura)|total\s+con\s+iva)\s*:?", STRONG),
    (r"(?:totale\s+(?:documento|fattura|da\s+pagare)|importo\s+totale|netto\s+a\s+pagare)\s*:?", STRONG),
    (r"total\s+for\s+this\s+invoice\s*:?", STRONG),
    (r"(?:summe\s+gesamt|endsumme|gesamt\s+brutto)\s*:?", STRONG),
    (r"total\s+amount\s+due(?:\s+on)?\s*:?", STRONG),
    (r"(?<!sous-)(?<!sous )(?<!sub-)(?<!sub )total(?:e)?(?!\s*(?:h\.?\s?t|hors|excl|ex\.|tva|vat|tax|before|sans|net|des|\(?\s*excl))\s*(?:facture|g[ée]n[ée]ral)?\s*:?", WEAK),
    (r"totaal\s*:?", WEAK),
)

AMOUNT_BEFORE_TAX = _labels(
    (rf"total\s+(?:net\s+)?{_HT}\s*:?", STRONG),
    (rf"montant\s+(?:total\s+)?(?:net\s+)?(?:eur\s+)?{_HT}\s*:?", STRONG),
    (r"total\s+hors\s+tax(?:es?)?\s*:?", STRONG),
    (rf"total\s*{_EXCL}\s*:?", STRONG),
    (r"(?:amount|total)\s+before\s+tax(?:es)?\s*:?", STRONG),
    (r"net\s+amount\s*:?", STRONG),
    (r"exclusief\s+btw\s*:?", STRONG),
    (r"totaal\s+excl(?:usief|\.)?\s*btw\s*:?", STRONG),
    (r"(?:netto(?:betrag|summe)?|summe\s+netto|gesamt\s+netto|warenwert)(?:\s+eur)?\s*:?", MEDIUM),
    (r"zwischensumme\s*:?", MEDIUM),
    (r"(?:rechnungssumme|summe|gesamtbetrag|betrag)\s+(?:ohne|exkl\.?|zzgl\.?)\s*(?:ust|mwst)\.?\s*:?", STRONG),
    (r"positionssumme\s*:?", MEDIUM),
    (r"(?:base\s+imponible|total\s+sin\s+iva)\s*:?", STRONG),
    (r"(?:totale\s+)?imponibile\s*:?", STRONG),
    (rf"base\s+{_HT}\s*:?", STRONG),
    (rf"sous[\s\-]?total(?:\s+{_HT})?\s*:?", MEDIUM),
    (r"sub[\s\-]?total\s*:?", MEDIUM),
    (r"subtotaal\s*:?", MEDIUM),
    (r"grondslag\s*:?", MEDIUM),
)

TAX = _labels(
    (r"(?:total|montant)\s+(?:de\s+la\s+)?(?:tva|vat|tax(?:es)?)\s*:?", STRONG),
    (r"(?:tva|vat|btw)(?:\s*\(?\s*\d{1,2}(?:[.,]\d{1,2})?\s?%\s*\)?)?\s*:?", STRONG),
    (r"(?:sales\s+)?tax(?:es)?(?:\s*\(?\s*\d{1,2}(?:[.,]\d{1,3})?\s?%\s*\)?)?\s*:?", MEDIUM),
    (r"btw\s+bedrag\s*:?", STRONG),
    (r"(?:mwst|ust|mehrwertsteuer|umsatzsteuer)(?![a-z])\.?(?:\s*\(?\s*\d{1,2}(?:[.,]\d{1,2})?\s?%\s*\)?)?\s*:?", MEDIUM),
    (r"(?:(?:summe|gesamt)\s+(?:mwst|ust)\.?|(?:mwst|ust)\.?\s+gesamt|steuerbetrag|(?:mwst|ust)\.?[\s\-]?betrag)\s*:?", STRONG),
    (r"(?:cuota\s+)?iva(?![a-z])(?:\s*\(?\s*\d{1,2}(?:[.,]\d{1,2})?\s?%\s*\)?)?\s*:?", STRONG),
)
# A `TVA` that introduces a VAT number or a legal mention, not an amount.
NOT_TAX_CONTEXT = re.compile(
    r"intra|non\s+applicable|exon[ée]r|n[°o]\s*(?:de\s+)?tva|num[ée]ro\s+de\s+tva|tva\s+n[°o]|vat\s+(?:no|number|id|reg)"
    r"|uw\s+btw|btw[\s\-]?(?:nr|nummer)|tax\s+id|[A-Z]{2}\s?\d{2}\s?\d{3}\s?\d{3}\s?\d{3}|autoliquidation"
    r"|(?:vat|tax)\s*/\s*tin|\btin\b|gstin|ust[\s\-]?id|steuer[\s\-]?(?:nr|nummer)|partita\s+iva|p\.\s?iva|\bnif\b|\bcif\b",
    _F,
)

# `Total (incl. VAT)`, `hors TVA`: the tax word qualifies another amount.
NOT_TAX_PREFIX = re.compile(
    r"(?:incl(?:uding|\.)?|excl(?:uding|\.)?|hors|ex\.?|before|after|avant|sans|apr[èe]s|ohne|inkl\.?|zonder|sin|senza"
    r"|con|netto|brutto)\s*$", _F)

DEBTOR_BLOCK = _labels(
    (r"factur[ée]e?s?\s+[àa]\s*:?", STRONG),
    (r"facturer\s+[àa]\s*:?", STRONG),
    (r"adresse\s+de\s+facturation\s*:?", STRONG),
    (r"adresse\s+(?:du\s+)?client\s*:?", STRONG),
    (r"client(?:\s+factur[ée])?\s*:", STRONG),
    (r"client(?=\s*$)", STRONG),
    (r"destinataire\s*:?", STRONG),
    (r"(?:bill(?:ed)?|invoice[d]?|sold)\s+to\s*:?", STRONG),
    (r"customer\s*:?", MEDIUM),
    (r"factuuradres\s*:?", STRONG),
    (r"d[ée]biteur\s*:?", STRONG),
    (r"bill(?:ing)?(?:\s+to)?\s+address\s*:?", STRONG),
    (r"attn\.?\s*:", MEDIUM),
    (r"rechnungs(?:adresse|empf[äa]nger(?:in)?)\s*:?", STRONG),
    (r"(?:kunde|auftraggeber)\s*:", MEDIUM),
    (r"(?:facturar\s+a|datos\s+del\s+cliente|cliente)\s*:", STRONG),
    (r"(?:spett\.?(?:le)?|destinatario|intestatario)\s*:?", STRONG),
    (r"k[äa]ufer(?:\s*/\s*leistungsempf[äa]nger)?\s*:?", STRONG),
    (r"(?:leistungsempf[äa]nger|klant(?:gegevens)?|afnemer)\s*:", MEDIUM),
)

SERVICE = _labels(
    (r"(?:objet|object|subject|concerne|re)\s*:", STRONG),
    (r"(?:description\s+des\s+(?:prestations|services)|nature\s+de\s+la\s+prestation|prestation|services?|description)\s*:", STRONG),
)
SERVICE_HEADER = re.compile(
    r"(?:d[ée]signation|description|libell[ée]|prestations?|omschrijving|items?|services?|beschreibung|bezeichnung"
    r"|leistung|descripci[óo]n|concepto|descrizione)", _F
)

PAYMENT_TERMS = _labels(
    (r"(?:conditions|modalit[ée]s|d[ée]lai)\s+de\s+(?:paiement|r[èe]glement)\s*:?", STRONG),
    (r"payment\s+terms\s*:?", STRONG),
    (r"terms(?:\s+of\s+payment)?\s*:", STRONG),
    (r"betalings(?:termijn|voorwaarden)\s*:?", STRONG),
    (r"zahlungs(?:bedingungen|konditionen)\s*:?", STRONG),
    (r"(?:condiciones|forma)\s+de\s+pago\s*:?", STRONG),
    (r"(?:condizioni|modalit[àa]|termini)\s+di\s+pagamento\s*:?", STRONG),
)

CONTACT_EMAIL = _labels(
    (r"(?:adresse\s+)?e-?mail\s+(?:de\s+contact|du\s+client|client)\s*:?", 0.6),
    (r"(?:customer|client)\s+e-?mail\s*:?", 0.6),
)

# Penalty wording: the rate is the first percentage after it, within the same sentence-ish window.
LATE_PENALTY = [
    re.compile(
        r"(?:p[ée]nalit[ée]s?|int[ée]r[êe]ts?|taux)\s+(?:de\s+|d['’]int[ée]r[êe]ts?\s+de\s+)?retard[^%.]{0,140}?"
        r"(?<![\d,.])(\d{1,2}(?:[.,]\d{1,2})?)\s?%(?P<tail>[^.]{0,30})",
        _F,
    ),
    re.compile(
        r"late(?:[\s\-]+payment)?\s+(?:interest|penalt(?:y|ies)|fees?|charges?)[^%.]{0,140}?"
        r"(?<![\d,.])(\d{1,2}(?:[.,]\d{1,2})?)\s?%(?P<tail>[^.]{0,30})",
        _F,
    ),
    re.compile(r"late\s+payments?[^%.]{0,140}?(?<![\d,.])(\d{1,2}(?:[.,]\d{1,2})?)\s?%(?P<tail>[^.]{0,30})", _F),
    re.compile(
        r"retard\s+de\s+paiement[^%.]{0,140}?(?<![\d,.])(\d{1,2}(?:[.,]\d{1,2})?)\s?%(?P<tail>[^.]{0,30})", _F
    ),
    re.compile(
        r"(?<![\d,.])(\d{1,2}(?:[.,]\d{1,2})?)\s?%(?P<tail>\s*(?:per\s+(?:annum|year|month)|par\s+(?:an|mois)|l['’]an|annual|annuel)?)"
        r"[^.%\d€$]{0,40}?(?:late\s+payment|overdue|de\s+retard|en\s+retard)",
        _F,
    ),
]
MONTHLY = re.compile(r"per\s+month|par\s+mois|mensuel|monthly|/\s?mois|/\s?month", _F)

ALL_FIELD_LABELS = INVOICE_NUMBER + ISSUE_DATE[:-2] + DUE_DATE + AMOUNT[:-2] + AMOUNT_BEFORE_TAX + PAYMENT_TERMS

# Words that head a block or a field: never a name (`Address` under `Bill to`, `Name:` in a key-value block).
LABEL_WORDS = re.compile(
    r"^(?:(?:billing|shipping|delivery|invoice|postal|mailing)\s+)?(?:address|adresse|anschrift|adres|indirizzo|direcci[óo]n)"
    r"|^(?:bill(?:ed)?|ship(?:ped)?|sold|invoice[d]?)\s+to|^(?:name|nom|naam|nombre|nome|raison\s+sociale|company|firma"
    r"|soci[ée]t[ée]|client|customer|kunde|klant|cliente|attn|attention|contact|destinataire|käufer|k[äa]ufer)"
    r"(?:\s*(?:name|nom))?\s*:?\s*$",
    _F,
)
# `Label : value` lines of a key-value block whose value is not part of the debtor (`Nummer : GE2020211`).
SKIPPED_BLOCK_KEYS = re.compile(
    r"^(?:(?:globale\s+)?nummer|kunden[\s\-]?(?:nr|nummer)\.?|customer\s+(?:no|number|id)\.?|account\s+(?:no|number)"
    r"|n[°o]\s+client|code\s+client|klantnummer|gln|id)\s*(?::|$)",
    _F,
)
# `Name : X` / `Anschrift : Y` in a key-value block: the value is the company / an address line.
NAME_KEY = re.compile(r"^(?:name|nom|naam|nombre|nome|firma|company|soci[ée]t[ée]|raison\s+sociale)\s*:\s*", _F)
ADDRESS_KEY = re.compile(r"^(?:anschrift|address|adresse|adres|indirizzo|direcci[óo]n)\s*:\s*", _F)

# The column of line amounts in an item table (the right-most such header on the header line).
LINE_AMOUNT_HEADER = re.compile(
    r"(?:montant(?:\s+ht)?|prix\s+total(?:\s+ht)?|total(?:\s+ht)?|amount|line\s+total|betrag|zeilenbetrag|gesamt(?:preis)?"
    r"|entgelt|bedrag|importe|importo|totale)",
    _F,
)
