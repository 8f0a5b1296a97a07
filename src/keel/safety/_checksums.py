"""Check digits of payment numbers: the Luhn sum of card numbers, brands by prefix, IBAN mod-97."""

from __future__ import annotations

__all__ = ["IBAN_LENGTHS", "card_brand", "iban_valid", "luhn_valid"]

# Length of the IBAN of each country in the SWIFT IBAN registry (and the partners that use IBANs).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

# (first digits, lengths): the issuer ranges of the card networks, longest prefix first where they nest.
_BRANDS: tuple[tuple[str, tuple[str, ...], range], ...] = (
    ("amex", ("34", "37"), range(15, 16)),
    ("visa", ("4",), range(13, 20)),
    ("mastercard", ("51", "52", "53", "54", "55", *(str(p) for p in range(2221, 2721))), range(16, 17)),
    ("discover", ("6011", "65", *(str(p) for p in range(644, 650))), range(16, 20)),
    ("jcb", ("35",), range(16, 20)),
    ("jcb15", ("2131", "1800"), range(15, 16)),
    ("diners", ("300", "301", "302", "303", "304", "305", "36", "38", "39"), range(14, 20)),
    ("unionpay", ("62",), range(16, 20)),
    ("maestro", ("50", "56", "57", "58", "6"), range(12, 20)),
)


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card network whose issuer range and length fit ``digits``, if any."""
    for brand, prefixes, lengths in _BRANDS:
        if len(digits) in lengths and digits.startswith(prefixes):
            return brand
    return None


def iban_valid(compact: str) -> bool:
    """Whether an upper-case IBAN without spaces has its country's length and a mod-97 remainder of 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1
