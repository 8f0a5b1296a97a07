"""National identity numbers that carry a check: each found by its layout, kept if its check holds.

US social security numbers have no check digit, only allocation rules (no area 000, 666 or 9xx, no
group 00, no serial 0000), so only the dashed or spaced layout counts. Dutch BSNs and bare Brazilian
CPFs are plain runs of digits whose check one in eleven random numbers passes, so they count only
after a word naming them. The checks are python-stdnum's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from stdnum.br import cpf
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.nl import bsn

__all__ = ["find_national_ids"]

_ID_WORDS = re.compile(
    r"(?:bsn|burgerservicenummer|sofinummer|cpf|ssn|social security|id|identification|identity"
    r"|tax|fiscal|fiscale|nummer|número|numero|numéro)\b\W{0,12}$",
    re.IGNORECASE,
)


# Any of these in the text lets the rules that need a naming word run (the word's place is checked after).
_WORD_STEMS = (
    "bsn",
    "burgerservice",
    "sofi",
    "cpf",
    "ssn",
    "social security",
    "id",
    "tax",
    "fiscal",
    "nummer",
    "mero",
)


def _ssn(value: str) -> bool:
    area, group, serial = re.split(r"[- ]", value)
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


# (layout, check, needs a naming word before it)
_SSN = r"(?<![\w\-])\d{3}-\d{2}-\d{4}(?![\w\-])|(?<![\w\-])\d{3} \d{2} \d{4}(?![\w\-])"
_NIR = r"(?<![\w\-])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w\-])"
_CODICE_FISCALE = r"(?<!\w)[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z](?!\w)"
_RULES: tuple[tuple[re.Pattern[str], Callable[[str], bool], bool], ...] = (
    (re.compile(_SSN), _ssn, False),
    (re.compile(_NIR), nir.is_valid, False),
    (re.compile(_CODICE_FISCALE), codicefiscale.is_valid, False),
    (re.compile(r"(?<![\w\-])\d{8}-?[A-Z](?!\w)"), dni.is_valid, False),
    (re.compile(r"(?<![\w\-])[XYZ]-?\d{7}-?[A-Z](?!\w)"), nie.is_valid, False),
    (re.compile(r"(?<![\w.\-])\d{3}\.\d{3}\.\d{3}-\d{2}(?![\w\-])"), cpf.is_valid, False),
    (re.compile(r"(?<![\w.\-])\d{11}(?![\w\-])"), cpf.is_valid, True),
    (re.compile(r"(?<![\w.\-])\d{9}(?![\w\-])"), bsn.is_valid, True),
)


def find_national_ids(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each national id number in ``text``."""
    lowered = text.lower()
    words = any(word in lowered for word in _WORD_STEMS)
    for layout, check, needs_word in _RULES:
        if needs_word and not words:
            continue
        for match in layout.finditer(text):
            if needs_word and not _ID_WORDS.search(text[max(0, match.start() - 40) : match.start()]):
                continue
            if check(match.group()):
                yield match.start(), match.end()
