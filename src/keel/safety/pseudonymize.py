"""Stable placeholders for personal data in a request, and the originals put back into the answer.

A ``Pseudonymizer`` lives for one call. Each distinct value gets one placeholder that keeps the
shape a validator could check where the kind has one: ``email-1@redacted.invalid`` (the reserved
``.invalid`` domain), ``240.0.0.1`` (IPv4's reserved 240/4, never routed), ``2001:db8::1`` (the
IPv6 documentation prefix), ``+1-555-010-0001`` (North American in shape, but no number has area
code 555 with exchange 010), and for the rest a word no one writes by chance
(``card-1-redacted``). ``restore`` swaps the placeholders it issued back in an answer;
``restorer`` does so on a stream whose chunks may split a placeholder anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .pii import find_pii

__all__ = ["Pseudonymizer", "StreamRestorer"]


def _placeholder(kind: str, n: int, value: str) -> str:
    if kind == "email":
        return f"email-{n}@redacted.invalid"
    if kind == "phone":
        return f"+1-555-010-{n:04d}"
    if kind == "ip":
        return f"2001:db8::{n:x}" if ":" in value else f"240.0.{n // 256}.{n % 256}"
    return f"{kind.replace('_', '-')}-{n}-redacted"


class Pseudonymizer:
    """Replaces personal data with placeholders and puts the originals back, for one call."""

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        self._kinds = None if kinds is None else tuple(kinds)
        self._placeholders: dict[str, str] = {}  # original -> placeholder
        self._originals: dict[str, str] = {}  # placeholder -> original
        self._counts: dict[str, int] = {}
        self._pattern: re.Pattern[str] | None = None
        self._prefixes: frozenset[str] = frozenset()

    @property
    def kinds(self) -> list[str]:
        """The kinds of personal data replaced so far, in order."""
        return sorted(self._counts)

    @property
    def mapping(self) -> dict[str, str]:
        """Each placeholder issued so far and the value it stands for."""
        return dict(self._originals)

    def pseudonymize(self, text: str) -> str:
        """``text`` with each finding replaced by its value's placeholder (the same value, the same one)."""
        spans = find_pii(text, self._kinds)
        if not spans:
            return text
        parts: list[str] = []
        last = 0
        for span in spans:
            parts.append(text[last : span.start])
            parts.append(self._placeholder_for(span.kind, text[span.start : span.end]))
            last = span.end
        parts.append(text[last:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        """``text`` with every placeholder this pseudonymizer issued replaced by its original."""
        if not self._originals:
            return text
        if self._pattern is None:
            self._compile()
        assert self._pattern is not None
        return self._pattern.sub(lambda m: self._originals[m.group()], text)

    def restorer(self) -> StreamRestorer:
        """An incremental ``restore`` for a stream of text chunks."""
        return StreamRestorer(self)

    def _placeholder_for(self, kind: str, value: str) -> str:
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            placeholder = _placeholder(kind, n, value)
            self._placeholders[value] = placeholder
            self._originals[placeholder] = value
            self._pattern = None  # compiled again when first needed
        return placeholder

    def _compile(self) -> None:
        # Longest first, and never inside a longer run of the same characters: 240.0.0.1 is not in 240.0.0.12.
        alternatives = "|".join(re.escape(p) for p in sorted(self._originals, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w.@:+\-])(?:{alternatives})(?![\w@:\-]|\.\w)")
        self._prefixes = frozenset(p[:i] for p in self._originals for i in range(1, len(p) + 1))

    def _held(self, text: str) -> int:
        """How many characters at the end of ``text`` could still become (or grow into) a placeholder."""
        if self._pattern is None and self._originals:
            self._compile()
        longest = max((len(p) for p in self._originals), default=0)
        for i in range(max(0, len(text) - longest - 1), len(text)):
            if text[i:] in self._prefixes or text[i:-1] in self._originals:
                return len(text) - i
        return 0


class StreamRestorer:
    """Restores placeholders in a stream: ``feed`` each chunk, then ``flush`` at the end.

    It holds back only a tail that is the start of some placeholder (at most the longest
    placeholder's length), plus one character after a placeholder, which decides whether it ends.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer
        self._pending = ""
        self._last = ""  # the character released last: a placeholder must not continue a word

    def feed(self, chunk: str) -> str:
        """The restored text that can be released after ``chunk``."""
        text = self._pending + chunk
        held = self._pseudonymizer._held(text)
        self._pending = text[len(text) - held :] if held else ""
        return self._release(text[: len(text) - held])

    def flush(self) -> str:
        """Whatever was held back, restored: call once when the stream ends."""
        text, self._pending = self._pending, ""
        return self._release(text)

    def _release(self, text: str) -> str:
        if not text:
            return ""
        restored = self._pseudonymizer.restore(self._last + text)[len(self._last) :]
        self._last = text[-1]
        return restored
