"""Which of the scanner's rules match a text, found in one pass: each rule's pattern is tried only
where one of its matches could start.

Each pattern is read (by ``re``'s own parser) for the literal prefixes that every one of its
matches starts with (``ignore``, ``do not follow``, ``<|im_start|>``, a line start then
``system``); one Aho-Corasick automaton (``ahocorasick-rs``) finds them all in the lowered text,
and the pattern is matched at those positions only, against the whole text, so the answer is the
one ``pattern.search`` gives. A rule whose matches may start with anything keeps the test of its
anchor words and a full search; so does every rule without ``ahocorasick-rs`` (a dependency of
Keel; the fallback is for an install that lacks it), or when lowering a text changed its length.
docs/decisions/0014-injection-scan-cost.md.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._lazy_pattern import LazyPattern

__all__ = ["PREFIX_TABLE", "RuleIndex", "prefixes", "read_prefixes", "table_key"]

try:
    import ahocorasick_rs
except ImportError:  # pragma: no cover - a dependency of Keel
    ahocorasick_rs = None  # type: ignore[assignment]

# ``re``'s own parser and opcodes (private, and untyped: read as Any).
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

Rule = tuple[str, float, LazyPattern, tuple[str, ...]]
Pattern = re.Pattern[str] | LazyPattern

# The automaton reads every whitespace character but the newline as a space, so that ``\s`` in a
# prefix is two keys, not thirty.
_OTHER_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \n")
_BLANK = re.compile(f"[{re.escape(_OTHER_SPACES)}]")  # looked for with ``in`` first: far cheaper
_LINE_START = "\uffff"  # stands for ``^``: found as the newline before the line (or the text)
_MAX_PREFIXES = 2048  # keys per rule, past which they are cut shorter
_DEPTH = 8  # characters and repetitions followed into a pattern


# What ``read_prefixes`` gives for each of the scanner's own rules, kept beside this module so that
# start-up does not parse every pattern again (half of loading the scanner); written by
# scripts/make_rule_prefixes.py, and tests/safety/test_rule_index.py checks it is up to date.
PREFIX_TABLE = Path(__file__).with_name("_rule_prefixes.json")


@functools.cache
def prefixes(pattern: Pattern) -> set[str] | None:
    """Lower-cased literals one of which starts every match of ``pattern`` (``_LINE_START`` first
    in one means "at a line's start"), or None if a match may start with anything."""
    table = _prefix_table()
    key = table_key(pattern)
    if key not in table:
        return read_prefixes(pattern)
    kept = table[key]
    return None if kept is None else set(kept)


def read_prefixes(pattern: Pattern) -> set[str] | None:
    """``prefixes``, read from the pattern itself."""
    found = _starts(list(_p.parse(pattern.pattern, pattern.flags)), _DEPTH, at_start=True)
    return None if "" in found else found


def table_key(pattern: Pattern) -> str:
    return f"{pattern.flags}:{pattern.pattern}"


@functools.cache
def _prefix_table() -> dict[str, list[str] | None]:
    try:
        table: dict[str, list[str] | None] = json.loads(PREFIX_TABLE.read_text(encoding="utf-8"))
    except OSError:
        return {}
    return table


def _starts(items: list[tuple[Any, Any]], depth: int, at_start: bool = False) -> set[str]:
    """The prefixes of what ``items`` (then anything) match; ``""`` among them when unknown.
    ``depth`` bounds the characters and repetitions followed."""
    if not items or depth <= 0:
        return {""}
    (op, av), rest = items[0], items[1:]
    if op is _c.AT:
        if av in (_c.AT_BOUNDARY, _c.AT_NON_BOUNDARY):  # checked by the match at the position
            return _starts(rest, depth, at_start)
        if av in (_c.AT_BEGINNING_LINE, _c.AT_BEGINNING) and at_start:
            return {_LINE_START + tail for tail in _starts(rest, depth)}
        return {""}
    if op is _c.SUBPATTERN:
        return _starts(list(av[-1]) + rest, depth, at_start)
    if op is _c.BRANCH:
        return set().union(*(_starts(list(branch) + rest, depth, at_start) for branch in av[1]))
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        # The item once, then the rest of the repetition (``\s+x`` starts with `` x`` or ``  ``).
        low, high, item = av
        left = high if high == _c.MAXREPEAT else high - 1
        again = [(op, (max(low - 1, 0), left, item))] if left else []
        once = _starts(list(item) + again + rest, depth - 1, at_start)
        return once | _starts(rest, depth, at_start) if low == 0 else once
    heads = _charset([(op, av)]) if op is _c.LITERAL else _charset(av) if op is _c.IN else None
    if not heads:
        return {""}
    tails = _starts(rest, depth - 1)
    while len(heads) * len(tails) > _MAX_PREFIXES and max(map(len, tails)) > 0:
        longest = max(map(len, tails))
        tails = {tail[: longest - 1] for tail in tails}  # shorter keys, fewer of them
    return {head + tail for head in heads for tail in tails}


def _charset(items: list[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(chr(av).lower())
        elif op is _c.CATEGORY and av is _c.CATEGORY_SPACE:
            chars.update(" \n")
        else:
            return None
    return {" " if c.isspace() and c != "\n" else c for c in chars} if len(chars) <= 64 else None


class RuleIndex:
    """The rules, each matched only where one of its prefixes occurs."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._unindexed = list(range(len(self.rules)))
        self._automaton: Any = None
        if ahocorasick_rs is None:
            return
        keys: dict[str, list[tuple[int, int]]] = {}
        self._unindexed = []
        for i, (_, _, pattern, _) in enumerate(self.rules):
            heads = prefixes(pattern)
            if heads is None:
                self._unindexed.append(i)
                continue
            for head in heads:
                # The text is read with a newline before it, so that its start is a line start too:
                # a key found at k starts the match at k - 1, or at k for a line start's newline.
                if head.startswith(_LINE_START):
                    keys.setdefault("\n" + head[1:], []).append((i, 0))
                else:
                    keys.setdefault(head, []).append((i, -1))
        self._keys = list(keys)
        self._entries = [tuple(keys[key]) for key in self._keys]
        dfa = ahocorasick_rs.Implementation.DFA
        self._automaton = ahocorasick_rs.AhoCorasick(self._keys, implementation=dfa)

    def matching(self, text: str, lowered: str) -> list[Rule]:
        """The rules whose pattern matches ``text`` (``lowered`` is ``text.lower()``), in rule order."""
        if self._automaton is None or len(lowered) != len(text):
            return [rule for rule in self.rules if _anchored_search(rule, text, lowered)]
        hit = {i for i in self._unindexed if _anchored_search(self.rules[i], text, lowered)}
        if any(space in lowered for space in _OTHER_SPACES):
            lowered = _BLANK.sub(" ", lowered)
        entries, rules = self._entries, self.rules
        for key, start, _ in self._automaton.find_matches_as_indexes("\n" + lowered, overlapping=True):
            for i, offset in entries[key]:
                if i not in hit and rules[i][2].match(text, start + offset):
                    hit.add(i)
        return [rules[i] for i in sorted(hit)]


def _anchored_search(rule: Rule, text: str, lowered: str) -> bool:
    _, _, pattern, anchors = rule
    return any(a in lowered for a in anchors) and pattern.search(text) is not None
