"""Canary tokens: a random marker placed in the system prompt, whose appearance in an answer shows
the system prompt leaked.

A canary reads as an ordinary reference code (``ref-`` and 20 hexadecimal digits, 80 random bits
from ``secrets``), so it draws no attention in a prompt and cannot be guessed or produced by chance.
"""

from __future__ import annotations

import secrets

__all__ = ["CanaryWatch", "contains_canary", "new_canary"]


def new_canary() -> str:
    """A fresh canary, different on every call."""
    return "ref-" + secrets.token_hex(10)


def contains_canary(text: str, canary: str) -> bool:
    """Whether ``text`` contains ``canary`` (in any case)."""
    return canary.lower() in text.lower()


class CanaryWatch:
    """``contains_canary`` for a stream: ``feed`` each chunk; ``leaked`` turns true when the canary
    has appeared, even split across chunks. It keeps the last ``len(canary) - 1`` characters, so a
    chunk costs one search over itself and that tail."""

    __slots__ = ("_canary", "_keep", "_tail", "leaked")

    def __init__(self, canary: str) -> None:
        self._canary = canary.lower()
        self._keep = len(canary) - 1
        self._tail = ""
        self.leaked = False

    def feed(self, chunk: str) -> bool:
        """Whether the canary has appeared, now that ``chunk`` is seen."""
        if not self.leaked and chunk:
            seen = self._tail + chunk.lower()
            self.leaked = self._canary in seen
            self._tail = seen[-self._keep :]
        return self.leaked
