"""Output guards: checks of the text a client receives, fed a chunk at a time.

Each guard is built once per config (``OutputGuard``) and gives every call a fresh scanner
(``scanner()``), which sees the answer's text in order — content and tool-call arguments — and says
at the first violation what it found, never the text itself. A scanner keeps only the last
``window`` characters between feeds, so a chunk costs a search over that window and the new text,
not over the whole answer; a pattern longer than the window may be missed (its start has gone).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from ..safety._secrets import ANSWER_SECRET, ANSWER_SECRET_PREFIXES, LONGEST_ANSWER_SECRET

if TYPE_CHECKING:
    from ..config import GuardMatchConfig, GuardsConfig, OutputGuardConfig
    from ..types import ChatRequest

__all__ = ["Finding", "OutputGuard", "Scanner", "TextScanner", "build_output_guards"]

Mode = Literal["flag", "redact", "block"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What a guard found: its name, kind, what it does about it, and why — without the content."""

    guard: str
    kind: str
    mode: Mode
    reason: str


class TextScanner(Protocol):
    """Anything that reads an answer's text in order and reports its first violation; ``finish``
    marks the end of one text (a value there is whole)."""

    def feed(self, text: str) -> Finding | None: ...

    def finish(self) -> Finding | None: ...


class Scanner:
    """One call's view of one guard: ``feed`` the text as it comes; a ``Finding`` at the first violation.

    A guard whose pattern can only match after a known prefix (``secrets``) looks for the prefixes
    in the new text and the few characters before it — a cheap search — and runs its pattern only
    within a window after one was seen.
    """

    __slots__ = ("_armed", "_guard", "_hay", "_length", "_tail", "done")

    def __init__(self, guard: OutputGuard) -> None:
        self._guard = guard
        self._tail = ""  # the last characters seen: a window's worth, or a prefix's for prefixed guards
        self._hay = ""  # prefixed guards: the text since a prefix, up to a window
        self._length = 0
        self._armed = 0  # prefixed guards: characters still to scan since a prefix was seen
        self.done = False  # found once: a guard reports one finding per answer

    def feed(self, text: str) -> Finding | None:
        """The finding if ``text`` (the answer's next piece) completes a violation, else None."""
        if self.done or not text:
            return None
        guard = self._guard
        if guard.max_chars is not None:
            self._length += len(text)
            if self._length > guard.max_chars:
                return self._found(f"the answer is longer than {guard.max_chars} characters")
        pattern = guard.pattern
        if pattern is None:
            return None
        prefixes = guard.prefix_pattern
        if prefixes is None:
            haystack = self._tail + text
            self._tail = haystack[-guard.window :]
        else:
            tail = self._tail
            recent = tail + text
            self._tail = recent[-guard.prefix_reach :]
            if prefixes.search(recent) is not None:
                if self._armed <= 0:
                    self._hay = tail
                self._armed = guard.window + len(text)
            elif self._armed <= 0:
                return None
            self._armed -= len(text)
            haystack = self._hay + text
            self._hay = haystack[-guard.window :]
        if pattern.search(haystack) is not None:
            return self._found(guard.what)
        return None

    def finish(self) -> Finding | None:
        return None

    def _found(self, reason: str) -> Finding:
        self.done = True
        guard = self._guard
        return Finding(guard.name, guard.kind, guard.mode, reason)


@dataclass(frozen=True)
class OutputGuard:
    """One configured output guard, and where it applies."""

    name: str
    kind: str
    mode: Mode
    pattern: re.Pattern[str] | None
    max_chars: int | None
    window: int
    prefix_pattern: re.Pattern[str] | None  # the pattern matches only text after one of these
    what: str  # the reason a finding gives
    match: GuardMatchConfig
    prefix_reach: int  # how far back before new text a prefix may begin and still end in it
    pii_kinds: list[str] | None = None  # pii: the kinds looked for (all by default)

    def applies(self, model: str, key_id: str | None, team: str | None) -> bool:
        """Whether the guard checks a call for ``model`` by this key and team."""
        return self.match.applies(model, key_id, team)

    def scanner(self, request: ChatRequest | None = None) -> TextScanner:
        """A fresh scanner for one answer to ``request`` (the caller's own, for the ``pii`` guard)."""
        if self.kind == "pii":
            from .output_pii import PiiScanner, request_values

            kinds = self.pii_kinds
            return PiiScanner(self, kinds, lambda: request_values(request, kinds) if request else frozenset())
        return Scanner(self)


def build_output_guards(config: GuardsConfig) -> list[OutputGuard]:
    """The guards ``config`` turns on (``mode: off`` ones are left out), in order."""
    return [_build(guard, config.window_chars) for guard in config.output if guard.mode != "off"]


def _build(config: OutputGuardConfig, window: int) -> OutputGuard:
    pattern: re.Pattern[str] | None = None
    what, prefixes = "", None
    if config.kind == "secrets":
        pattern, window, what = ANSWER_SECRET, LONGEST_ANSWER_SECRET, "the answer carries a credential"
        prefixes = re.compile("|".join(re.escape(prefix) for prefix in ANSWER_SECRET_PREFIXES))
    elif config.kind == "patterns":
        pattern, what = _patterns(config.patterns, config.keywords), "the answer matches a forbidden pattern"
    mode: Mode = "flag" if config.mode == "flag" else "block"
    return OutputGuard(
        name=config.label,
        kind=config.kind,
        mode=mode,
        pattern=pattern,
        max_chars=config.max_chars,
        window=window,
        prefix_pattern=prefixes,
        prefix_reach=max(len(prefix) for prefix in ANSWER_SECRET_PREFIXES) - 1 if prefixes else 0,
        what=what,
        match=config.match,
        pii_kinds=list(config.kinds) if config.kinds is not None else None,
    )


def _patterns(patterns: Sequence[str], keywords: Sequence[str]) -> re.Pattern[str]:
    """One expression for all: each pattern as written, each keyword as a whole word, any case."""
    parts = [f"(?:{pattern})" for pattern in patterns]
    for keyword in keywords:
        escaped = re.escape(keyword)
        head = r"\b" if keyword[:1].isalnum() else ""
        tail = r"\b" if keyword[-1:].isalnum() else ""
        parts.append(f"(?i:{head}{escaped}{tail})")
    return re.compile("|".join(parts))
