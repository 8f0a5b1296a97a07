"""``OutputSpec``: what a call's answer must be — JSON that parses, and validates against a schema.

From the library it is built from a pydantic model (``Invoice``), a list of them (``list[Invoice]``)
or a JSON Schema dict; from the proxy, from the request's ``response_format``. It also carries the
caller's own validators and how many times Keel may ask again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_MAX_REASKS", "OutputSpec", "Validator"]

DEFAULT_MAX_REASKS = 2

Validator = Callable[[Any], Any]
"""A check of the parsed answer (the model instance, or the JSON value): raise with a message to
reject it (``ValueError``, ``AssertionError``, ``TypeError``); the return value is ignored."""


@dataclass(frozen=True, eq=False)
class OutputSpec:
    """The shape an answer must have, and how to get one that does."""

    schema: dict[str, Any] | None
    """The JSON Schema the answer validates against; None: any JSON object (``json_object``)."""
    name: str = "answer"
    target: Any = None
    """A pydantic model, ``list[Model]`` or other type pydantic validates: the library's result type."""
    validators: tuple[Validator, ...] = ()
    max_reasks: int = DEFAULT_MAX_REASKS
    strict: bool = False
    """Ask the provider for strict schema adherence (OpenAI ``strict: true``)."""
    tools: dict[str, dict[str, Any]] | None = None
    """Tool mode: the argument schemas of the tools whose calls are checked (by function name); the
    answer's text is not. A forced tool's call, or every call of a ``strict: true`` function."""
    wrapped: bool = False
    """The schema is the library's ``{"value": …}`` object around a root that is not an object
    (``list[Invoice]``): providers take only objects at the root."""
    _adapter: Any = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        output: Any,
        *,
        validators: Sequence[Validator] = (),
        max_reasks: int = DEFAULT_MAX_REASKS,
    ) -> OutputSpec:
        """The spec for a pydantic model or type (``Invoice``, ``list[Invoice]``) or a JSON Schema dict.

        Raises:
            TypeError: ``output`` is neither.
            RequestError: the schema refers (``$ref``) to what it does not define.
        """
        if isinstance(output, dict):
            from .check import unresolved_refs

            if missing := unresolved_refs(output):
                from ..errors import RequestError

                raise RequestError(
                    f"the schema refers to what it does not define: {', '.join(sorted(set(missing))[:5])}",
                    code="invalid_response_format",
                )
            schema, wrapped = _object_rooted(dict(output))
            return cls(
                schema,
                name=_name(output),
                validators=tuple(validators),
                max_reasks=max_reasks,
                wrapped=wrapped,
            )
        from pydantic import TypeAdapter

        try:
            adapter = TypeAdapter(output)
            schema = adapter.json_schema()
        except Exception as error:  # pydantic's errors for what it cannot build a schema for
            raise TypeError(
                f"structured output needs a pydantic model, a type or a JSON Schema dict: {error}"
            ) from None
        name = getattr(output, "__name__", None) or _name(schema)
        schema, wrapped = _object_rooted(schema)
        return cls(
            schema,
            name=name,
            target=output,
            validators=tuple(validators),
            max_reasks=max_reasks,
            wrapped=wrapped,
            _adapter=adapter,
        )

    @classmethod
    def of_response_format(
        cls, response_format: dict[str, Any], *, max_reasks: int = DEFAULT_MAX_REASKS
    ) -> OutputSpec:
        """The spec a ``response_format`` (``json_schema`` or ``json_object``) asks for.

        Raises:
            ValueError: not a structured ``response_format``, or a ``json_schema`` without a schema.
        """
        kind = response_format.get("type")
        if kind == "json_object":
            return cls(None, name="json_object", max_reasks=max_reasks)
        if kind != "json_schema":
            raise ValueError(f"response_format type {kind!r} asks for no structure to enforce")
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ValueError("response_format.json_schema.schema must be a JSON Schema object")
        return cls(
            schema,
            name=str(spec.get("name") or "answer") if isinstance(spec, dict) else "answer",
            max_reasks=max_reasks,
            strict=bool(spec.get("strict")) if isinstance(spec, dict) else False,
        )

    @classmethod
    def of_tools(
        cls, schemas: dict[str, dict[str, Any]], *, max_reasks: int = DEFAULT_MAX_REASKS
    ) -> OutputSpec:
        """The spec that checks calls of these tools' functions against their argument schemas."""
        return cls(None, name="tools", tools=dict(schemas), max_reasks=max_reasks)

    @property
    def adapter(self) -> Any:
        """The pydantic ``TypeAdapter`` of ``target`` (None for a schema-only spec)."""
        return self._adapter

    def response_format(self) -> dict[str, Any]:
        """What to send upstream to ask for this shape."""
        if self.schema is None:
            return {"type": "json_object"}
        spec: dict[str, Any] = {"name": _safe_name(self.name), "schema": self.schema}
        if self.strict:
            spec["strict"] = True
        return {"type": "json_schema", "json_schema": spec}

    def key(self) -> str:
        """What of this spec changes the answer a cache may keep: the validators and re-ask limit
        (the schema is in the request's ``response_format``)."""
        names = ",".join(
            f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', repr(v))}" for v in self.validators
        )
        return f"reasks={self.max_reasks};validators={names}"


def _object_rooted(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``schema`` if its root is an object, else an object whose one required field ``value`` holds
    it (its ``$defs``, and the ``$id`` and ``$schema`` they resolve against, moved to the root, where
    its references point); and whether it was wrapped."""
    if schema.get("type") == "object" or ("properties" in schema and "type" not in schema):
        return schema, False
    inner = {key: value for key, value in schema.items() if key not in _ROOT_KEYS}
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
        "additionalProperties": False,
    }
    for key in _ROOT_KEYS:
        if key in schema:
            wrapper[key] = schema[key]
    return wrapper, True


# What stays at the root of a wrapped schema: an ``$id`` (draft 4: ``id``) left on ``value`` would
# make ``#/$defs/…`` point into ``value``, where the definitions no longer are (llguidance and
# llama.cpp then refuse it, and the check cannot resolve it).
_ROOT_KEYS = ("$defs", "definitions", "$id", "id", "$schema")


def _name(schema: dict[str, Any]) -> str:
    title = schema.get("title")
    return title if isinstance(title, str) and title else "answer"


def _safe_name(name: str) -> str:
    """A name OpenAI accepts for a schema: letters, digits, ``_`` and ``-``, at most 64."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    return cleaned or "answer"
