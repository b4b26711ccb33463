"""Checks shared by the client (before sending) and the sandbox (when receiving): identifiers, phones, money.

Libraries do the checksums (python-stdnum) and phone parsing (phonenumbers); this module only adapts them to
the contract's rules and wording. Both are imported on first use: the MCP server's start-up does not need them.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .contract import COMMISSION_TIERS

CENT = Decimal("0.01")
LA_POSTE_SIREN = "356000000"  # La Poste SIRETs do not satisfy Luhn [contract §1]


def to_money(value: Decimal | int | str | float) -> Decimal:
    """A Decimal rounded half-up to the cent. Floats go through str() so 0.1 stays 0.10."""
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def digits(value: str) -> str:
    from stdnum.util import clean

    return clean(value, " .-/").strip()


def is_valid_siret(value: str) -> bool:
    """14 digits whose Luhn checksum holds (La Poste excepted, as stdnum knows)."""
    from stdnum.fr import siret as fr_siret

    v = digits(value)
    if len(v) != 14 or not v.isdigit():
        return False
    return fr_siret.is_valid(v) or v.startswith(LA_POSTE_SIREN)


def is_valid_siren(value: str) -> bool:
    from stdnum.fr import siren as fr_siren

    v = digits(value)
    return len(v) == 9 and v.isdigit() and fr_siren.is_valid(v)


def is_valid_fr_vat(value: str) -> bool:
    """`FR` + 2-character key + 9-digit SIREN, key checked."""
    from stdnum.fr import tva as fr_tva

    v = digits(value).upper()
    if not v.startswith("FR"):
        return False
    return fr_tva.is_valid(v)


def normalize_phone(value: str, default_region: str = "FR") -> str | None:
    """E.164 form of a phone number, or None when it cannot be a valid number.

    `06 12 34 56 78` → `+33612345678`; `+1-555-0100`-style fictional numbers are refused because they are not
    valid numbers anywhere.
    """
    import phonenumbers

    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_e164(value: str) -> bool:
    return value.startswith("+") and normalize_phone(value) == value


def commission_tier(days: int, tiers=COMMISSION_TIERS) -> tuple[int, int | None, Decimal]:
    """The (days_from, days_to, rate) row a debt of `days` falls in; negative ages count as 0."""
    days = max(days, 0)
    for row in tiers:
        lo, hi, _ = row
        if days >= lo and (hi is None or days <= hi):
            return row
    return tiers[-1]


def tier_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi} days" if hi is not None else f"{lo}+ days"


def compute_commission(amount: Decimal, days: int, tiers=COMMISSION_TIERS) -> dict:
    """Rate, tier, fee and net for an amount and an age in days; half-up to the cent [decided]."""
    lo, hi, rate = commission_tier(days, tiers)
    fee = to_money(Decimal(amount) * rate / 100)
    return {
        "rate_percentage": rate,
        "rate_tier": tier_label(lo, hi),
        "commission_amount": fee,
        "net_recovery": to_money(Decimal(amount) - fee),
        "custom_rate": False,
    }


def days_since(day: date, today: date | None = None) -> int:
    return ((today or date.today()) - day).days
