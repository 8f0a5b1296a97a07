"""Undoing the disguises of hidden instructions: invisible characters, tag smuggling, homoglyphs,
leetspeak, spaced-out letters, and payloads in base64 or hex."""

from __future__ import annotations

import binascii
import itertools
import re
import unicodedata

__all__ = [
    "changed_lines",
    "decoded_payloads",
    "fold",
    "has_invisible",
    "invisible_counts",
    "obfuscations",
    "reveal_tags",
    "strip_invisible",
]

_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200e\u200f\u2060-\u2064\ufeff\u00ad]")
# A zero-width joiner between two emoji (or inside a family emoji) is how emoji are written.
_ZWJ_OUTSIDE_EMOJI = re.compile(
    "(?<![\U0001f000-\U0001faff\u2600-\u27bf\ufe0f])\u200d|\u200d(?![\U0001f000-\U0001faff\u2600-\u27bf])"
)
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u202a-\u202e\u2066-\u2069]"
)

# Latin look-alikes from Cyrillic and Greek, the ones that pass for ASCII letters in most fonts.
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdqwABEKMHOPCTXIJSabeiknoptuxABEHIKMNOPTYX",
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_SPACED = re.compile(r"\b(?:[A-Za-z][ .\-_]){3,}[A-Za-z]\b")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{16,}={0,2}(?![A-Za-z0-9+/=_\-])")
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,}(?![0-9A-Fa-f])")
# A word with a digit or sign between two letters ("h4ck3r", "n3w") or with two of them ("rul35", "7h3"),
# as leetspeak writes them; not "ipv4", "sha256" or "utf8".
_LEET_WORD = re.compile(
    r"(?<![\w@$])(?=[a-z0-9@$]*[a-z])(?=[a-z0-9@$]*[a-z][013457$]+[a-z]|(?:[a-z2689@]*[013457$]){2})"
    r"[a-z0-9@$]{3,}",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n")
# Where ``fold`` can change something, each found from a rare first character so that ``re`` skips
# ahead: a non-ASCII character; a digit or sign beside a letter (every leetspeak word has one); two
# single letters between separators (the middle of any spaced-out word).
_LEET_NEAR = re.compile(r"[0-9@$](?:(?<=[a-z].)|(?=[a-z]))", re.IGNORECASE)
_SPACED_MIDDLE = re.compile(r"[ .\-_][A-Za-z][ .\-_][A-Za-z][ .\-_]")
_FOLDABLE = (re.compile("[\x80-\U0010ffff]"), _LEET_NEAR, _SPACED_MIDDLE)


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a tag, zero-width or bidi character (else the three below have
    nothing to count, strip or reveal)."""
    return _INVISIBLE.search(text) is not None


def invisible_counts(text: str) -> tuple[int, int, int]:
    """How many tag characters, stray zero-width characters and bidi controls ``text`` holds."""
    return (
        sum(len(m) for m in _TAGS.findall(text)),
        len(_ZERO_WIDTH.findall(text)) + len(_ZWJ_OUTSIDE_EMOJI.findall(text)),
        len(_BIDI.findall(text)),
    )


def reveal_tags(text: str) -> str:
    """The ASCII that Unicode tag characters (U+E0000..E007F) spell, invisible in most renderers."""
    return "".join(chr(ord(ch) - 0xE0000) for run in _TAGS.findall(text) for ch in run)


def strip_invisible(text: str) -> str:
    """``text`` without zero-width, bidi and tag characters."""
    return _BIDI.sub("", _ZWJ_OUTSIDE_EMOJI.sub("", _ZERO_WIDTH.sub("", _TAGS.sub("", text))))


def fold(text: str, one: str = "i") -> str:
    """``text`` with compatibility forms, homoglyphs, leetspeak and spaced-out letters undone (``1``
    read as ``one``: leetspeak writes both i and l so)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_HOMOGLYPHS)
    if _LEET_NEAR.search(text):
        leet = _LEET if one == "i" else _LEET_L
        text = _LEET_WORD.sub(lambda m: m.group().translate(leet), text)
    if _SPACED_MIDDLE.search(text):
        text = _SPACED.sub(lambda m: re.sub(r"[ .\-_]", "", m.group()), text)
    return text


def changed_lines(text: str, folded: str) -> str:
    """The sentences (else the lines) of ``folded`` that differ from those of ``text`` (all of it if
    neither pair up), so that rules run again only where folding changed something."""
    for split in (_SENTENCES.split, str.splitlines):
        before, after = split(text), split(folded)
        if len(before) == len(after):
            return "\n".join(new for old, new in zip(before, after, strict=True) if old != new)
    return folded


def obfuscations(text: str) -> list[str]:
    """What ``fold`` changes in ``text``, as ``changed_lines`` gives it but line by line (no
    disguise crosses a newline), and only on the lines where it can change something: one text
    with ``1`` read as ``i``, and one with it read as ``l`` if that differs."""
    starts: set[int] = set()
    for pattern in _FOLDABLE[text.isascii() :]:
        starts.update(text.rfind("\n", 0, m.start()) + 1 for m in pattern.finditer(text))
    as_i, as_l = [], []
    for start in sorted(starts):
        end = text.find("\n", start)
        line = text[start : end if end >= 0 else len(text)]
        folded = fold(line)
        if folded != line:
            as_i.append(changed_lines(line, folded))
        folded_l = fold(line, one="l") if "1" in line else folded
        if folded_l != line:
            as_l.append(changed_lines(line, folded_l))
    variants = ["\n".join(as_i)] if as_i else []
    if as_l and as_l != as_i:
        variants.append("\n".join(as_l))
    return variants


def decoded_payloads(text: str) -> list[str]:
    """The readable text hidden in base64 or hex runs of ``text`` (runs that decode to prose)."""
    # A run holds no whitespace: only words of 16 characters or more need the patterns.
    words = text.split()
    text = " ".join(itertools.compress(words, map((15).__lt__, map(len, words))))
    found = []
    for match in _BASE64.finditer(text):
        blob = match.group()
        if blob.isalpha() and (blob.islower() or blob.isupper()):
            continue  # a long word, not base64
        decoded = _b64(blob)
        if decoded:
            found.append(decoded)
    for match in _HEX.finditer(text):
        try:
            decoded = binascii.unhexlify(match.group()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if _readable(decoded):
            found.append(decoded)
    return found


def _b64(blob: str) -> str | None:
    # What base64.b64decode and urlsafe_b64decode do, without their checks of the argument's type.
    padded = (blob + "=" * (-len(blob) % 4)).encode("ascii")
    for data in (padded, padded.translate(_URLSAFE)):
        try:
            decoded = binascii.a2b_base64(data).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue
        if _readable(decoded):
            return decoded
    return None


def _readable(decoded: str) -> bool:
    if len(decoded) < 8 or " " not in decoded:
        return False
    return sum(ch.isalpha() or ch == " " for ch in decoded) / len(decoded) > 0.8
