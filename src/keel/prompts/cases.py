"""A prompt version's test cases: variables to render it with, and what its answer must satisfy.

In the version's YAML::

    tests:
      - name: a short document
        variables: {document: "The cat sat on the mat.", audience: children}
        assert:
          - contains: cat              # the answer's text holds it (case-sensitive)
          - not_contains: dog
          - regex: "^.{1,400}$"        # Python re.search, DOTALL
          - json_schema: true          # the answer is JSON valid against the version's response_schema
          - json_schema: {type: object, required: [title]}   # or against this schema
          - equals: {field: title, value: "The cat"}         # a field of the JSON answer (a.b.0 paths)
          - max_cost_usd: 0.002
          - max_latency_s: 5

``keel prompts test`` runs them (``runner``); each assertion says why it failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

__all__ = ["Assertion", "Observed", "PromptTestCase"]

_KINDS = ("contains", "not_contains", "regex", "json_schema", "equals", "max_cost_usd", "max_latency_s")


@dataclass(frozen=True, slots=True)
class Observed:
    """What one case's call gave: the answer's text, its cost and how long it took."""

    text: str
    cost_usd: Decimal
    latency_s: float


class Assertion(BaseModel):
    """One check, written as a one-key mapping (``{contains: cat}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    value: Any

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and set(data) != {"kind", "value"}:
            if len(data) != 1 or next(iter(data)) not in _KINDS:
                raise ValueError(f"an assertion is one of {', '.join(_KINDS)}: value, not {data!r}")
            kind, value = next(iter(data.items()))
            return {"kind": kind, "value": value}
        return data

    @model_validator(mode="after")
    def _value(self) -> Assertion:
        if self.kind in ("contains", "not_contains", "regex") and not isinstance(self.value, str):
            raise ValueError(f"{self.kind}: takes a string")
        if self.kind == "regex":
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"regex: {error}") from None
        if self.kind == "equals" and not (
            isinstance(self.value, dict) and set(self.value) == {"field", "value"}
        ):
            raise ValueError("equals: takes {field: a.b, value: …}")
        if self.kind in ("max_cost_usd", "max_latency_s") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"{self.kind}: takes a number")
        if self.kind == "json_schema" and not (self.value is True or isinstance(self.value, dict)):
            raise ValueError("json_schema: takes true (the version's response_schema) or a schema")
        return self

    @model_serializer
    def _as_written(self) -> dict[str, Any]:
        return {self.kind: self.value}

    def failure(self, observed: Observed, response_schema: dict[str, Any] | None) -> str | None:
        """Why ``observed`` breaks this assertion, or None when it holds."""
        text = observed.text
        if self.kind == "contains":
            return None if self.value in text else f"does not contain {self.value!r}"
        if self.kind == "not_contains":
            return f"contains {self.value!r}" if self.value in text else None
        if self.kind == "regex":
            return None if re.search(self.value, text, re.DOTALL) else f"does not match /{self.value}/"
        if self.kind == "max_cost_usd":
            cost = observed.cost_usd
            return None if cost <= Decimal(str(self.value)) else f"cost ${cost} > ${self.value}"
        if self.kind == "max_latency_s":
            took = observed.latency_s
            return None if took <= self.value else f"took {took:.2f} s > {self.value} s"
        value, problem = _json(text)
        if problem is not None:
            return problem
        if self.kind == "json_schema":
            schema = response_schema if self.value is True else self.value
            if schema is None:
                return "json_schema: true, but the version has no response_schema"
            from ..structured.check import schema_problems

            problems = schema_problems(value, schema)
            return None if not problems else "; ".join(str(p) for p in problems[:3])
        field, expected = self.value["field"], self.value["value"]
        found = _field(value, str(field))
        return None if found == expected else f"{field} is {found!r}, not {expected!r}"


class PromptTestCase(BaseModel):
    """One case: its name, the variables, and the assertions its answer must pass."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True)

    name: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    assertions: tuple[Assertion, ...] = Field(default=(), alias="assert")

    def label(self, index: int) -> str:
        return self.name or f"case {index + 1}"


_MISSING = object()


def _json(text: str) -> tuple[Any, str | None]:
    from ..structured.parse import NotJSONError, extract_json

    try:
        return extract_json(text).value, None
    except NotJSONError:
        return None, "the answer is not JSON"


def _field(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is _MISSING:
            return None
    return value
