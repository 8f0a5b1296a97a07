"""Check a parsed answer against an ``OutputSpec``: its JSON Schema, its pydantic type, the caller's
validators. Each problem names where in the answer it is (a JSON Pointer) and what is wrong."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson

from ._all_of import resolve
from .spec import OutputSpec

__all__ = ["Checked", "Problem", "check", "schema_problems", "unresolved_refs"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the answer is not valid; ``path`` is a JSON Pointer (``""``: the whole answer)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(the answer)'}: {self.message}"


@dataclass(frozen=True, slots=True)
class Checked:
    """The answer as the caller gets it (the pydantic instance, or the JSON value), or its problems."""

    result: Any
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(value: Any, spec: OutputSpec) -> Checked:
    """Validate ``value``; the first failing stage's problems (schema, then type, then validators)."""
    if spec.schema is None:
        if not isinstance(value, dict):
            return Checked(None, (Problem("", "must be a JSON object"),))
    else:
        found = _schema_problems(value, spec.schema)
        if found:
            return Checked(None, found)
    result = value["value"] if spec.wrapped else value
    if spec.adapter is not None:
        from pydantic import ValidationError

        try:
            result = spec.adapter.validate_python(result)
        except ValidationError as error:
            within = "/value" if spec.wrapped else ""
            return Checked(None, tuple(_pydantic_problem(e, within) for e in error.errors(include_url=False)))
    problems: list[Problem] = []
    for validator in spec.validators:
        try:
            validator(result)
        except (ValueError, AssertionError, TypeError) as error:
            problems.append(Problem("", str(error) or type(error).__name__))
    return Checked(result if not problems else None, tuple(problems))


def schema_problems(value: Any, schema: dict[str, Any], within: str = "") -> tuple[Problem, ...]:
    """Where ``value`` breaks ``schema``, each path prefixed with ``within``."""
    return tuple(Problem(within + p.path, p.message) for p in _schema_problems(value, schema))


def unresolved_refs(schema: Any) -> list[str]:
    """The ``$ref``s to this document (``#/…``) that point nowhere in it: a schema no answer can be
    checked against, which is the caller's to fix before any call is made."""
    missing: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and resolve(schema, ref) is None:
                missing.append(ref)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    return missing


def _schema_problems(value: Any, schema: dict[str, Any]) -> tuple[Problem, ...]:
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    except Exception as error:  # a reference the validator cannot follow (remote, or an anchor)
        from ..errors import RequestError

        raise RequestError(
            f"the schema cannot be checked against: {error}", code="invalid_response_format"
        ) from None
    return tuple(Problem(_pointer(error.absolute_path), error.message) for error in errors[:20])


@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    """A compiled validator per distinct schema (a schema is checked once, then reused)."""
    from jsonschema import validators

    schema = orjson.loads(schema_json)
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _pointer(path: Any) -> str:
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)


def _pydantic_problem(error: Any, within: str) -> Problem:
    return Problem(within + _pointer(error.get("loc", ())), str(error.get("msg", "invalid")))
