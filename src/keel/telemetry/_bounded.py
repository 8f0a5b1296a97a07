"""``BoundedValues``: label values taken as they come up to a ceiling, then counted as ``other``."""

from __future__ import annotations

__all__ = ["OTHER", "BoundedValues"]

OTHER = "other"


class BoundedValues:
    """The distinct values one label has shown, at most ``ceiling`` of them per process.

    A label fed by what callers send (a model name, a key id) must not grow a series per value: once
    the ceiling is reached, new values are reported as ``other`` and the ones seen keep their own.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, value: str, ceiling: int) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= ceiling:
            return OTHER
        self._seen.add(value)
        return value
