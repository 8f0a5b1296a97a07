"""A regular expression compiled the first time it is used.

The prompt-injection scanner has ~50 rules and a text needs only the few whose first words it
holds: compiling them all at start-up was most of the scanner's load time (~0.1 s of the first
answer's), so each is compiled when a text first calls for it (~1 to 2 ms, once per process).
"""

from __future__ import annotations

import re
import sys

__all__ = ["LazyPattern"]


class LazyPattern:
    """``re.compile(pattern, flags)``, on first use; ``pattern`` and ``flags`` as ``re.Pattern``'s."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        # As ``re.compile`` reports them: a str pattern is Unicode unless it asked for ASCII.
        self.flags = int(flags if flags & re.ASCII else flags | re.UNICODE)
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        """The compiled expression (compiled now if this is its first use)."""
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self.pattern, self.flags)
        return compiled

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled().search(string, pos, endpos)

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled().match(string, pos, endpos)

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r}, {self.flags})"
