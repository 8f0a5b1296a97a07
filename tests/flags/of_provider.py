"""An in-process OpenFeature provider for the tests that configure ``flags.provider`` by import string."""

from __future__ import annotations

from typing import Any

from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

__all__ = ["make"]


def make(model: str) -> InMemoryProvider:
    """``summarizer`` serves variant ``new`` (the model given); ``paused`` is disabled."""
    flags: dict[str, InMemoryFlag[Any]] = {
        "summarizer": InMemoryFlag("new", {"new": {"model": model}, "old": {"model": "small"}}),
        "paused": InMemoryFlag("off", {"off": False}),
    }
    return InMemoryProvider(flags)
