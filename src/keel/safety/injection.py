"""A heuristic prompt-injection scanner: a score in [0, 1] and the named rules that produced it.

The scanner looks at the text as written and at what it hides: Unicode tag characters spell
invisible ASCII; zero-width characters split words; Cyrillic look-alikes, leetspeak and spaced
letters disguise them; base64 and hex runs carry whole sentences. Each is undone and the phrase
rules run again. A rule that fires only on an undone form is reported with the disguise
(``override+homoglyphs``, ``override+base64``). Rules carry weights combined as independent
evidence; ``flagged`` is ``score >= threshold``. Each rule is tried only where one of its matches
could start (``_rule_index``), and each disguise is undone only where the text could hold one.

No classifier: none that a package ships and that runs offline on CPU was found acceptable (see
docs/decisions/0013-safety-detectors.md); the heuristics stand alone and their rates on the
project's labelled set are in docs/safety.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._injection_layout import STRUCTURE_RULES
from ._injection_rules import PHRASE_RULES
from ._normalize import (
    decoded_payloads,
    has_invisible,
    invisible_counts,
    obfuscations,
    reveal_tags,
    strip_invisible,
)
from ._rule_index import RuleIndex

__all__ = ["DEFAULT_THRESHOLD", "InjectionScan", "scan"]

DEFAULT_THRESHOLD = 0.5

_ALL = RuleIndex(PHRASE_RULES + STRUCTURE_RULES)
_PHRASES = RuleIndex(PHRASE_RULES)  # for the disguised forms


@dataclass(frozen=True, slots=True)
class InjectionScan:
    """The scanner's verdict on one text."""

    score: float
    reasons: tuple[str, ...]
    threshold: float = DEFAULT_THRESHOLD

    @property
    def flagged(self) -> bool:
        """Whether the score reaches the threshold."""
        return self.score >= self.threshold


def scan(text: str, threshold: float = DEFAULT_THRESHOLD) -> InjectionScan:
    """Score ``text`` for prompt injection.

    Args:
        text: a user turn, a tool result, retrieved content: anything the model will read.
        threshold: the score from which ``flagged`` is true.

    Returns:
        The score and the names of the rules that fired, strongest first.
    """
    evidence: dict[str, float] = {}

    def add(name: str, weight: float) -> None:
        evidence[name] = max(weight, evidence.get(name, 0.0))

    hidden = not text.isascii() and has_invisible(text)
    if hidden:
        tags, zero_width, bidi = invisible_counts(text)
        if tags:
            add("tag_characters", 0.6)
        if zero_width >= 3:
            add("zero_width", 0.3)
        if bidi:
            add("bidi_controls", 0.3)

    lowered = text.lower()
    for rule_name, weight, _, _ in _ALL.matching(text, lowered):
        add(rule_name, weight)

    visible = strip_invisible(text) if hidden else text
    disguises = [(variant, "obfuscation") for variant in obfuscations(visible)]
    if hidden:
        disguises += [(reveal_tags(text), "tag_characters"), (visible, "zero_width")]
    disguises += [(payload, "encoded") for payload in decoded_payloads(visible)]
    for variant, disguise in disguises:
        if variant and variant != text:
            for rule_name, weight, _, _ in _PHRASES.matching(variant, variant.lower()):
                add(f"{rule_name}+{disguise}", weight)

    score = 1.0 - math.prod(1.0 - w for w in evidence.values())
    reasons = tuple(sorted(evidence, key=lambda name: -evidence[name]))
    return InjectionScan(round(score, 4), reasons, threshold)
