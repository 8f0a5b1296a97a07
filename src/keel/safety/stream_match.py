"""Patterns found in a stream of text chunks without rescanning what came before.

A ``StreamMatcher`` keeps only a tail of the text seen so far, as long as the longest match it
can report (``max_length``), and searches the tail with each new chunk, so a match split across
any number of chunks is found once, in time proportional to the chunk and the tail. A pattern whose
match could still grow (``sk-[a-z0-9]{8,40}``) is reported as soon as it matches: the earliest moment an
output guard can act on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["StreamMatch", "StreamMatcher"]


@dataclass(frozen=True, slots=True)
class StreamMatch:
    """One match: the pattern's name, the matched text and its place in the whole stream."""

    name: str
    text: str
    start: int
    end: int


class StreamMatcher:
    """Finds keywords and regular expressions in a stream: ``feed`` chunks, get the new matches."""

    def __init__(
        self,
        keywords: Iterable[str] = (),
        patterns: Iterable[tuple[str, str | re.Pattern[str]]] = (),
        *,
        max_length: int | None = None,
        ignore_case: bool = True,
        whole_words: bool = False,
    ) -> None:
        """
        Args:
            keywords: literal strings, each its own name.
            patterns: (name, regular expression) pairs.
            max_length: the longest match a pattern can make; required with ``patterns`` (a regular
                expression's length has no general bound), the longest keyword otherwise.
            ignore_case: keywords match in any case (patterns carry their own flags).
            whole_words: keywords match only as whole words.

        Raises:
            ValueError: ``patterns`` without ``max_length``, or nothing to match.
        """
        keywords = list(keywords)
        compiled: list[tuple[str, re.Pattern[str]]] = []
        flags = re.IGNORECASE if ignore_case else 0
        for word in keywords:
            body = re.escape(word)
            compiled.append((word, re.compile(rf"(?<!\w){body}(?!\w)" if whole_words else body, flags)))
        patterns = list(patterns)
        for name, pattern in patterns:
            compiled.append((name, pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)))
        if not compiled:
            raise ValueError("StreamMatcher needs at least one keyword or pattern")
        if patterns and max_length is None:
            raise ValueError("StreamMatcher with regular expressions needs max_length")
        self._patterns = compiled
        self._window = max([max_length or 0, *(len(w) for w in keywords)])
        self._tail = ""
        self._offset = 0  # stream position of self._tail[0]
        self._reported: dict[str, int] = {}  # name -> stream position where its last match ended
        self.matches: list[StreamMatch] = []

    @property
    def matched(self) -> bool:
        """Whether anything has matched so far."""
        return bool(self.matches)

    def feed(self, chunk: str) -> list[StreamMatch]:
        """The matches that ``chunk`` completes (each reported once)."""
        text = self._tail + chunk
        # The first character of the tail is context only (for lookbehinds and word boundaries): a
        # match that starts there and ends in ``chunk`` would be longer than the window.
        pos = 1 if self._tail else 0
        new_from = len(self._tail)
        found = []
        for name, pattern in self._patterns:
            for match in pattern.finditer(text, pos):
                start, end = self._offset + match.start(), self._offset + match.end()
                if match.end() <= new_from or start < self._reported.get(name, 0) or end == start:
                    continue
                self._reported[name] = end
                found.append(StreamMatch(name, match.group(), start, end))
        keep = min(len(text), self._window)
        self._offset += len(text) - keep
        self._tail = text[len(text) - keep :]
        found.sort(key=lambda m: m.start)
        self.matches.extend(found)
        return found
