"""Partial objects from a JSON answer still arriving: what the text so far says, as the caller's type.

The text is parsed as far as it goes (pydantic's partial JSON parsing: an unfinished string counts as
far as it goes). A pydantic model comes back with every field it has so far and ``None`` for the
rest (nested models and lists of them alike), built without validation — a partial object is a
preview; the validated one comes at the end. For ``list[Model]`` each item is yielded once complete:
when the next one has begun, or the answer has ended.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import from_json

from .spec import OutputSpec

__all__ = ["item_type", "parse_partial", "partial_of"]


def parse_partial(text: str, spec: OutputSpec) -> Any:
    """The JSON value so far (inside the library's ``value`` wrapper when there is one), or None."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        value = from_json(text[start:], allow_partial="trailing-strings")
    except ValueError:
        return None
    if spec.wrapped:
        return value.get("value") if isinstance(value, dict) else None
    return value


def partial_of(value: Any, target: Any) -> Any:
    """``value`` as ``target`` as far as it goes: models built field by field without validation."""
    model = _model_of(target)
    if model is not None and isinstance(value, dict):
        fields = {}
        for name, info in model.model_fields.items():
            key = info.alias or name
            fields[name] = partial_of(value[key], info.annotation) if key in value else None
        return model.model_construct(**fields)
    item = item_type(target)
    if item is not None and isinstance(value, list):
        return [partial_of(element, item) for element in value]
    return value


def item_type(target: Any) -> Any:
    """``X`` for ``list[X]`` (or ``Optional[list[X]]``), else None."""
    for candidate in _options(target):
        if typing.get_origin(candidate) is list:
            args = typing.get_args(candidate)
            return args[0] if args else Any
    return None


def _model_of(target: Any) -> type[BaseModel] | None:
    for candidate in _options(target):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _options(target: Any) -> tuple[Any, ...]:
    """The members of a union (``X | None``), or the type itself."""
    if typing.get_origin(target) in (typing.Union, types.UnionType):
        return typing.get_args(target)
    return (target,)
