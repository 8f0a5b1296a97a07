"""``Previews``: what ``gw.structured_stream`` yields while an answer arrives, and at its end.

For a model or a schema: a partial object each time the text so far says more (``partial``). For
``list[Model]``: each item once complete and valid on its own, then at the end the items of the
validated list not yielded yet.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from .partial import item_type, parse_partial, partial_of
from .spec import OutputSpec

__all__ = ["Previews"]


class Previews:
    """Feeds on the answer's text piece by piece."""

    def __init__(self, spec: OutputSpec) -> None:
        self.spec = spec
        self.text = ""
        self._last: Any = None
        self._done = 0  # list form: items yielded
        item = item_type(spec.target) if spec.target is not None else None
        self._item: TypeAdapter[Any] | None = TypeAdapter(item) if item is not None else None

    def add(self, piece: str) -> list[Any]:
        """What to yield now that ``piece`` has arrived."""
        if not piece:
            return []
        self.text += piece
        value = parse_partial(self.text, self.spec)
        if value is None:
            return []
        if self._item is not None:
            return self._complete(value[:-1]) if isinstance(value, list) else []
        preview = partial_of(value, self.spec.target) if self.spec.target is not None else value
        if preview == self._last:
            return []
        self._last = preview
        return [preview]

    def _complete(self, items: list[Any]) -> list[Any]:
        assert self._item is not None
        ready = []
        for item in items[self._done :]:
            try:
                ready.append(self._item.validate_python(item))
            except ValidationError:
                break  # the answer as a whole is judged at its end; nothing invalid is yielded
            self._done += 1
        return ready

    def final(self, result: Any) -> list[Any]:
        """What to yield once the answer is validated: the object, or the list's remaining items."""
        if self._item is not None and isinstance(result, list):
            return list(result[self._done :])
        return [result]
