"""Personal data and secrets in text: where they are (``find_pii``) and the text without them (``redact``).

Each kind has a pattern that finds candidates and a check that keeps only real ones: card numbers
pass Luhn and fit a network's issuer range, IBANs their country's length and mod-97, IP addresses
parse with ``ipaddress``, phone numbers with libphonenumber, national ids their check digits. Where
two findings overlap the more specific kind wins (a key before an e-mail address, an IBAN before a
phone number). Text with neither a digit nor an ``@`` nor a key prefix is answered after one scan.

Phone numbers and national ids need the ``safety`` extra (``pip install 'keel[safety]'``); without
it ``find_pii`` finds the other kinds, and asking for those two by name raises ``ImportError``.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ._checksums import IBAN_LENGTHS, card_brand, iban_valid, luhn_valid
from ._secrets import SECRET

__all__ = ["KINDS", "Span", "find_pii", "redact"]

# In order of precedence: where two findings overlap, the earlier kind is kept.
KINDS = ("secret", "email", "iban", "card", "national_id", "ip", "phone")

_EXTRA_KINDS = ("national_id", "phone")


@dataclass(frozen=True, slots=True)
class Span:
    """One finding: its kind and where it is in the text (``text[start:end]``)."""

    kind: str
    start: int
    end: int


_DIGIT_OR_AT = re.compile(r"[0-9@]")
_NO_DIGIT_MARKERS = ("sk-", "hf_", "Bearer", "BEGIN", "eyJ", "::")  # keys and IPv6 written without digits
_DIGIT = re.compile(r"\d")
_WITHOUT_DIGITS = frozenset({"secret", "email", "ip"})
_SECRET_PREFIXES = (
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "AKIA",
    "gh",
    "github_pat_",
    "xox",
    "AIza",
    "glpat-",
    "hf_",
    "eyJ",
    "Bearer",
    "BEGIN",
)
_EMAIL = re.compile(
    r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w\-@])"
)
_CARD = re.compile(r"(?<![\d\-.])(?<!\d[ \-])\d(?:[ \-]?\d){11,18}(?![\d\-]|[ \-.]\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_IPV4 = re.compile(r"(?<![\w.\-])(?:\d{1,3}\.){3}\d{1,3}(?![\w\-]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)
_VERSION_BEFORE = re.compile(r"(?:version|release|build|ver\.?|v)\s?$", re.IGNORECASE)
_NOT_CARD_BEFORE = re.compile(
    r"(?:tracking|order|invoice|isbn|serial|shipment|parcel)\W{0,3}(?:no\.?|number|#)?\W{0,3}$", re.IGNORECASE
)


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[Span]:
    """Find personal data and secrets in ``text``.

    Args:
        text: any text: a prompt, an answer, a log line.
        kinds: the kinds to look for (from ``KINDS``); all of them by default (phone numbers and
            national ids only where the ``safety`` extra is installed).

    Returns:
        The findings in text order, none overlapping another.

    Raises:
        ImportError: ``phone`` or ``national_id`` asked for by name without the ``safety`` extra.
        ValueError: an unknown kind.
    """
    wanted = _wanted(kinds)
    if not _DIGIT_OR_AT.search(text) and not any(marker in text for marker in _NO_DIGIT_MARKERS):
        return []
    if not _DIGIT.search(text):  # most kinds are numbers: only keys, e-mail and IPv6 remain
        wanted = wanted & _WITHOUT_DIGITS
    found: list[Span] = []
    for kind in KINDS:
        if kind in wanted:
            found.extend(Span(kind, start, end) for start, end in _FINDERS[kind](text))
    return _without_overlaps(found)


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with each finding replaced by its kind in brackets (``[EMAIL]``, ``[CARD]``, ...)."""
    spans = find_pii(text, kinds)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for span in spans:
        parts.append(text[last : span.start])
        parts.append(f"[{span.kind.upper()}]")
        last = span.end
    parts.append(text[last:])
    return "".join(parts)


def _wanted(kinds: Iterable[str] | None) -> frozenset[str]:
    if kinds is None:
        return _DEFAULT_KINDS
    wanted = frozenset(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    if wanted & set(_EXTRA_KINDS) and not _EXTRA:
        raise ImportError("phone numbers and national ids need the safety extra: pip install 'keel[safety]'")
    return wanted


def _without_overlaps(found: list[Span]) -> list[Span]:
    rank = {kind: i for i, kind in enumerate(KINDS)}
    kept: list[Span] = []
    for span in sorted(found, key=lambda s: (rank[s.kind], s.start - s.end)):
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def _secrets(text: str) -> Iterator[tuple[int, int]]:
    if not any(prefix in text for prefix in _SECRET_PREFIXES):
        return
    for match in SECRET.finditer(text):
        yield match.span()


def _emails(text: str) -> Iterator[tuple[int, int]]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield match.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        raw = match.group()
        length = IBAN_LENGTHS.get(raw[:2])
        if length is None:
            continue
        # The pattern may run on into the next upper-case word: keep the country's length.
        end, count = match.start(), 0
        while count < length and end < match.end():
            count += text[end] != " "
            end += 1
        compact = text[match.start() : end].replace(" ", "")
        if count == length and iban_valid(compact) and not (end < len(text) and text[end].isalnum()):
            yield match.start(), end


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        raw = match.group()
        if " " in raw and "-" in raw:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if len(digits) < 12 or not luhn_valid(digits) or card_brand(digits) is None:
            continue
        if _NOT_CARD_BEFORE.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        yield match.span()


def _ips(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4.finditer(text):
        if _VERSION_BEFORE.search(text[max(0, match.start() - 12) : match.start()]):
            continue
        try:
            ipaddress.IPv4Address(match.group())
        except ValueError:
            continue
        yield match.span()
    if "::" in text or text.count(":") >= 7:
        for match in _IPV6.finditer(text):
            value = match.group()
            if sum(ch in "0123456789abcdefABCDEF" for ch in value) < 3:
                continue
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield match.span()


def _phones(text: str) -> Iterator[tuple[int, int]]:
    from ._phones import find_phones

    return find_phones(text)


def _national_ids(text: str) -> Iterator[tuple[int, int]]:
    from ._national_ids import find_national_ids

    return find_national_ids(text)


def _extra_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("phonenumbers", "stdnum"))


_FINDERS: dict[str, Callable[[str], Iterator[tuple[int, int]]]] = {
    "secret": _secrets,
    "email": _emails,
    "iban": _ibans,
    "card": _cards,
    "ip": _ips,
    "phone": _phones,
    "national_id": _national_ids,
}
_EXTRA = _extra_available()
_DEFAULT_KINDS = frozenset(KINDS) if _EXTRA else frozenset(KINDS) - set(_EXTRA_KINDS)
