"""``BoundedValues``: label values taken as they come up to a ceiling, then counted as ``other``."""

from __future__ import annotations

__all__ = ["OTHER", "BoundedValues", "set_ceiling"]

OTHER = "other"
_ceiling = [100]  # ``metrics.max_label_values``, process-wide as the registry is


def set_ceiling(ceiling: int) -> None:
    """How many distinct values each bounded label keeps (the latest gateway's setting)."""
    _ceiling[0] = ceiling


class BoundedValues:
    """The distinct values one label has shown, at most the ceiling of them per process.

    A label fed by what callers send (a model or route name, a key id) must not grow a series per
    value: once the ceiling is reached, new values are reported as ``other`` and the ones seen keep
    their own.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= _ceiling[0]:
            return OTHER
        self._seen.add(value)
        return value
