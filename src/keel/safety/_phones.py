"""Phone numbers in text: a cheap pattern finds number-shaped runs, libphonenumber judges each.

libphonenumber's own matcher (``PhoneNumberMatcher``) costs about 3 ms per KB of prose; a regular
expression that only lets through runs of 7 to 15 digits in phone-like groups, then one ``parse``
per candidate (about 30 µs), costs a small fraction of that. A number written with ``+`` or ``00``
must be a possible number of its country; one written nationally must be laid out like a phone
number (separated groups, or a phone word such as "call" or "tel." close before it) and be a valid
number of one of ``REGIONS`` (a possible one, if a phone word stands close before or after it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

__all__ = ["REGIONS", "find_phones"]

# Countries whose national formats are tried for a number written without its country code.
REGIONS = ("US", "GB", "FR", "DE", "ES", "IT", "NL", "BR", "IN", "JP", "CA", "AU", "CH", "AT", "BE", "PT")

_BARE_REGIONS = ("US", "CA", "IN", "IT")

_CANDIDATE = re.compile(
    r"(?<![\w+\-./])(?:\+|00)?\(?\d[\d \-.()/\u00a0]{5,22}\d"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
    r"(?![\w\-:]|[ .\-/(]\d)"
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$")
_DATE = re.compile(r"^(?:\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})\b")
_COMPACT_DATE = re.compile(r"(?<!\d)(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")
_PARENTHESES = re.compile(r" ?[()][ \-]?")
_DOUBLE_SEPARATOR = re.compile(r"[ .\-/\u00a0]{2,}")
_PHONE_WORDS = re.compile(
    r"(?:phone|tel|call|mobile|cell|fax|whatsapp|sms|text me|ring|reach|contact|dial"
    r"|téléphone|portable|appel|joindre|telefon|handy|ruf|erreichen|teléfono|móvil|llam|contact"
    r"|telefono|cellulare|chiam|contatt|bellen|bereik|telefone|celular|ligar|contat)",
    re.IGNORECASE,
)
_NOT_PHONE_WORDS = re.compile(
    r"(?:order|invoice|tracking|shipment|parcel|isbn|serial|ticket|case|ref|reference|patent|build|version"
    r"|sku|account|iban|card|ssn|bsn|passport|id|fiscal|fiscale|tax|time|timestamp|epoch|_at)\W{0,3}(?:no\.?|number|nr\.?|#)?\W{0,3}$",
    re.IGNORECASE,
)
_UNIT_AFTER = re.compile(r"^\s?(?:bytes?|[kmgt]i?b|km|kg|m|hz|ms|s|%|€|\$|usd|eur|gbp)\b", re.IGNORECASE)


def find_phones(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each phone number in ``text``."""
    for match in _CANDIDATE.finditer(text):
        number = _EXTENSION.sub("", match.group())
        digits = sum(ch.isdigit() for ch in number)
        if not 7 <= digits <= 15 or _DATE.match(number.lstrip("(")) or _COMPACT_DATE.search(number):
            continue
        before = text[max(0, match.start() - 30) : match.start()]
        if _NOT_PHONE_WORDS.search(before) or _UNIT_AFTER.match(text[match.end() : match.end() + 8]):
            continue
        after = text[match.end() : match.end() + 30]
        worded = bool(_PHONE_WORDS.search(before) or _PHONE_WORDS.search(after))
        if _international(number) or _national(number, worded):
            yield match.start(), match.end()


def _international(number: str) -> bool:
    if not number.startswith(("+", "00")):
        return False
    parsed = _parse("+" + number[2:] if number.startswith("00") else number, None)
    return parsed is not None and phonenumbers.is_possible_number(parsed)


def _national(number: str, worded: bool) -> bool:
    if number.startswith("+"):
        return False
    flat = _PARENTHESES.sub(" ", number).strip()
    if _DOUBLE_SEPARATOR.search(flat):
        return False
    groups = re.split(r"[ .\-/\u00a0]", flat)
    dotted = "." in number and not re.search(r"[ \-/\u00a0()]", number)
    if dotted and len(groups) != 3:  # decimals, dotted quads and versions
        return False
    laid_out = len(groups) > 1 and all(len(g) > 1 for g in groups[1:])
    if len(groups) >= 5 and all(len(g) <= 2 for g in groups) and not number.startswith("0"):
        return False  # short numbers in a row (scores, lottery draws) unless a trunk prefix starts them
    bare = len(groups) == 1 and (len(flat) >= 10 or flat.startswith("0"))
    if not (laid_out or bare or worded):
        return False
    # A bare run of digits that does not start with a trunk prefix is tried only where numbers are
    # written so (North America; Indian and Italian mobiles): elsewhere it is a count, an id or a time.
    for region in REGIONS if not bare or flat.startswith("0") else _BARE_REGIONS:
        parsed = _parse(number, region)
        if parsed is None:
            continue
        if phonenumbers.is_valid_number(parsed) or (worded and phonenumbers.is_possible_number(parsed)):
            return True
    return False


def _parse(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
