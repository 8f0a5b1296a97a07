"""Canary tokens: a random marker placed in the system prompt, whose appearance in an answer shows
the system prompt leaked.

A canary reads as an ordinary reference code (``ref-`` and 16 base-32 characters, 80 random bits
from ``secrets``), so it draws no attention in a prompt and cannot be guessed or produced by chance.
"""

from __future__ import annotations

import base64
import secrets

from .stream_match import StreamMatcher

__all__ = ["CanaryWatch", "contains_canary", "new_canary"]


def new_canary() -> str:
    """A fresh canary, different on every call."""
    return "ref-" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


def contains_canary(text: str, canary: str) -> bool:
    """Whether ``text`` contains ``canary`` (in any case)."""
    return canary.lower() in text.lower()


class CanaryWatch:
    """``contains_canary`` for a stream: ``feed`` each chunk; ``leaked`` turns true when the canary
    has appeared, even split across chunks."""

    def __init__(self, canary: str) -> None:
        self._matcher = StreamMatcher([canary])

    @property
    def leaked(self) -> bool:
        """Whether the canary has appeared in the chunks fed so far."""
        return self._matcher.matched

    def feed(self, chunk: str) -> bool:
        """Whether the canary has appeared, now that ``chunk`` is seen."""
        self._matcher.feed(chunk)
        return self._matcher.matched
