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
# Every character the three patterns above match, looked for one by one: ``in`` is far cheaper than
# a character class over a long text (and a tag character is not looked for in text that holds no
# character beyond U+FFFF).
_INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad" + "".join(
    map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0xE0000, 0xE0080)])
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
# A sentence ends at ``.``, ``!`` or ``?`` and the whitespace after it, or at a newline; the split
# writes that whitespace as one newline (so that ``re`` looks for the punctuation, not behind every
# character).
_SENTENCE_END = re.compile(r"([.!?])\s+")
# Where ``fold`` can change something besides non-ASCII characters, each found from its first
# character so that ``re`` skips ahead: a digit or sign beside a letter (every leetspeak word has
# one); two single letters between separators (the middle of any spaced-out word).
_LEET_NEAR = re.compile(r"[0-9@$](?:(?<=[a-z].)|(?=[a-z]))", re.IGNORECASE)
_SPACED_MIDDLE = re.compile(r"[ .\-_][A-Za-z][ .\-_][A-Za-z][ .\-_]")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _skeleton(marks: dict[str, str]) -> bytes:
    """A ``bytes.translate`` table that writes each character class as one mark, the rest as ``x``."""
    table = bytearray(b"x" * 256)
    for mark, chars in marks.items():
        for ch in chars:
            table[ord(ch)] = ord(mark)
    return bytes(table)


# Texts are read as ASCII bytes (one per character, ``?`` for the rest) in these marks, where
# ``bytes.find`` and a literal pattern are far cheaper than a character class over the text.
_SPACED_MARKS = _skeleton({"a": _LETTERS, "s": " .-_"})  # _SPACED_MIDDLE is "sasas"
_BASE64_MARKS = _skeleton({"b": _LETTERS + "0123456789+/_-"})
_BASE64_RUN = re.compile(rb"b{16,}")  # every match of _BASE64 and _HEX lies in one


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a tag, zero-width or bidi character (else the three below have
    nothing to count, strip or reveal)."""
    return any(ch in text for ch in _INVISIBLE)


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
        text = _undo_leet(text, _LEET if one == "i" else _LEET_L)
    if _SPACED_MIDDLE.search(text):
        text = _SPACED.sub(lambda m: re.sub(r"[ .\-_]", "", m.group()), text)
    return text


def _undo_leet(text: str, table: dict[int, str]) -> str:
    """``_LEET_WORD`` translated in ``text``, looked for only in the space-separated pieces with a
    digit or sign beside a letter (a space ends a leetspeak word and starts one as the text's start
    does)."""
    out, done = [], 0
    for near in _LEET_NEAR.finditer(text):
        if near.start() < done:
            continue
        start = text.rfind(" ", 0, near.start()) + 1
        end = text.find(" ", near.start())
        end = len(text) if end < 0 else end
        out += [text[done:start], _LEET_WORD.sub(lambda m: m.group().translate(table), text[start:end])]
        done = end
    return "".join(out) + text[done:]


def changed_lines(text: str, folded: str) -> str:
    """The sentences (else the lines) of ``folded`` that differ from those of ``text`` (all of it if
    neither pair up), so that rules run again only where folding changed something."""
    for split in (_sentences, str.splitlines):
        before, after = split(text), split(folded)
        if len(before) == len(after):
            return "\n".join(new for old, new in zip(before, after, strict=True) if old != new)
    return folded


def _sentences(text: str) -> list[str]:
    return _SENTENCE_END.sub("\\1\n", text).split("\n")


def obfuscations(text: str) -> list[str]:
    """What ``fold`` changes in ``text``, as ``changed_lines`` gives it but line by line (no
    disguise crosses a newline), and only on the lines where it can change something: one text
    with ``1`` read as ``i``, and one with it read as ``l`` if that differs."""
    as_i, as_l = [], []
    for line in _foldable_lines(text):
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


def _foldable_lines(text: str) -> list[str]:
    """The lines of ``text`` that hold a non-ASCII character, a leetspeak sign beside a letter or
    single letters between separators, in order."""
    starts: set[int] = set()
    if not text.isascii():
        lines = text.split("\n")
        offsets = itertools.accumulate(map(len, lines), lambda at, length: at + length + 1, initial=0)
        starts.update(at for at, line in zip(offsets, lines, strict=False) if not line.isascii())
    marks = text.encode("ascii", "replace").translate(_SPACED_MARKS)
    at = marks.find(b"sasas")
    while at >= 0:
        starts.add(text.rfind("\n", 0, at) + 1)
        at = marks.find(b"sasas", at + 1)
    if any(sign in text for sign in "0123456789@$"):
        starts.update(text.rfind("\n", 0, m.start()) + 1 for m in _LEET_NEAR.finditer(text))
    ends = (text.find("\n", start) for start in sorted(starts))
    return [text[start : end if end >= 0 else None] for start, end in zip(sorted(starts), ends, strict=True)]


def decoded_payloads(text: str) -> list[str]:
    """The readable text hidden in base64 or hex runs of ``text`` (runs that decode to prose)."""
    # Only the runs of 16 base64 characters or more need the patterns: each with the character
    # before it and the two after (``==``) that the patterns look at, apart.
    runs = _BASE64_RUN.finditer(text.encode("ascii", "replace").translate(_BASE64_MARKS))
    text = " ".join(text[max(run.start() - 1, 0) : run.end() + 3] for run in runs)
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
