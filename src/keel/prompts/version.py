"""``PromptVersion``: one immutable, numbered version of a named prompt — its model, parameters,
templates and declared variables — checked whole when it is loaded or created.

A version is written as YAML (``prompts/summarize/v2.yaml``) or sent as JSON (``keel prompts
create``, ``POST /admin/prompts/{name}/versions``) in one shape::

    version: 2
    model: smart                    # a model alias (cascade) or provider/model
    temperature: 0.2                # any Chat Completions parameter, at the top level or under params:
    system: You summarise documents for {audience}.
    user_template: "Summarise:\\n{document}"
    variables: {document: {untrusted: true}, audience: {}}
    overridable: [temperature]      # what a caller may set on the request; anything else is a 400
    response_schema: {...}          # optional JSON Schema: the answer is validated against it
    label: production               # YAML only: the label it takes at first load, if unset

``messages:`` (a list of ``{role, content}`` templates) may stand instead of, or before,
``user_template``. Without ``variables:``, the placeholders used are the variables, all trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..errors import PromptVariableError
from .cases import PromptTestCase
from .template import Span, Template, TemplateSyntaxError

__all__ = ["PARAMS", "MessageTemplate", "PromptVersion", "VariableSpec", "check_label", "check_name"]

PARAMS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
    "frequency_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format", "n",
    "logit_bias", "logprobs", "top_logprobs", "reasoning_effort",
)  # fmt: skip
"""The request parameters a version may set (at its top level or under ``params:``)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")


def check_name(name: str) -> str:
    """A prompt's name: letters, digits, ``_ . -``, starting with a letter or digit."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"prompt name {name!r}: use letters, digits, _ . - (starting with a letter or digit)"
        )
    return name


def check_label(label: str) -> str:
    """A label's name: a letter, then letters, digits, ``_ . -``; never ``latest`` (it is implicit)."""
    if not _LABEL.fullmatch(label):
        raise ValueError(f"label {label!r}: use a letter, then letters, digits, _ . -")
    if label == "latest":
        raise ValueError("label 'latest' is implicit (the highest version) and cannot be set")
    return label


class VariableSpec(BaseModel):
    """A declared variable: ``untrusted`` values are delimited as data and scanned by input guards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    untrusted: bool = False
    description: str | None = None


class MessageTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "developer"]
    content: str


class PromptVersion(BaseModel):
    """One version; ``source`` says where it came from (``yaml:<path>`` or ``database``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = Field(ge=1)
    model: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    system: str | None = None
    messages: tuple[MessageTemplate, ...] = ()
    user_template: str | None = None
    variables: dict[str, VariableSpec] | None = None
    overridable: tuple[str, ...] = ()
    response_schema: dict[str, Any] | None = None
    tests: tuple[PromptTestCase, ...] = ()
    description: str | None = None
    label: str | None = Field(None, description="YAML: the label this version takes at first load")
    source: str = "database"

    _templates: tuple[tuple[str, Template], ...] = PrivateAttr(default=())
    _untrusted: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="before")
    @classmethod
    def _top_level_params(cls, value: Any) -> Any:
        """``temperature: 0.2`` at the top level means ``params: {temperature: 0.2}``."""
        if not isinstance(value, dict):
            return value
        top = {key: value[key] for key in PARAMS if key in value}
        if not top:
            return value
        rest = {key: item for key, item in value.items() if key not in top}
        params = rest.get("params") or {}
        if not isinstance(params, dict):
            return value
        both = sorted(set(top) & set(params))
        if both:
            raise ValueError(f"{both[0]} is given both at the top level and under params:")
        return {**rest, "params": {**params, **top}}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        return None if value is None else check_label(value)

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key in ("model", "messages", "stream", "stream_options", "user"):
                raise ValueError(f"params.{key}: a version cannot set {key!r} as a parameter")
        return value

    @field_validator("overridable")
    @classmethod
    def _overridable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if key != "model" and key not in PARAMS:
                raise ValueError(
                    f"overridable: {key!r} is not model or a request parameter ({', '.join(PARAMS)})"
                )
        return value

    @model_validator(mode="after")
    def _templates_and_variables(self) -> PromptVersion:
        sources = [("system", self.system)] if self.system is not None else []
        sources += [(f"messages[{i}].content", m.content) for i, m in enumerate(self.messages)]
        if self.user_template is not None:
            sources.append(("user_template", self.user_template))
        if not sources:
            raise ValueError("a version needs a system text, messages or a user_template")
        parsed: list[tuple[str, Template]] = []
        for where, text in sources:
            try:
                parsed.append((where, Template.parse(text)))
            except TemplateSyntaxError as error:
                raise ValueError(f"{where}: {error}") from None
        used = {name: where for where, template in parsed for name in template.variables}
        if self.variables is not None:
            undeclared = [name for name in used if name not in self.variables]
            if undeclared:
                raise ValueError(
                    f"{used[undeclared[0]]}: {{{undeclared[0]}}} is not declared under variables:"
                )
            unused = [name for name in self.variables if name not in used]
            if unused:
                raise ValueError(f"variables.{unused[0]} is declared but no template uses it")
        self._templates = tuple(parsed)
        self._untrusted = frozenset(name for name, spec in (self.variables or {}).items() if spec.untrusted)
        return self

    @property
    def ref(self) -> str:
        """``name@version``, as the ``x-keel-prompt`` header says it."""
        return f"{self.name}@{self.version}"

    @property
    def variable_names(self) -> tuple[str, ...]:
        if self.variables is not None:
            return tuple(self.variables)
        return tuple(dict.fromkeys(name for _, t in self._templates for name in t.variables))

    def spec(self) -> dict[str, Any]:
        """What is stored for a database version (everything but where it came from)."""
        return self.model_dump(mode="json", exclude={"source", "label"}, exclude_defaults=True)

    def render(self, values: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rendered messages, and where each untrusted value sits in them.

        Raises:
            PromptVariableError: a variable missing, unknown, or not text or a number (all named).
        """
        names = self.variable_names
        missing = [name for name in names if name not in values]
        if missing:
            raise PromptVariableError(
                f"prompt {self.ref} needs variable{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}; it takes: {', '.join(names) or 'none'}",
                param=f"variables.{missing[0]}",
            )
        unknown = [name for name in values if name not in names]
        if unknown:
            raise PromptVariableError(
                f"prompt {self.ref} has no variable {unknown[0]!r}; it takes: {', '.join(names) or 'none'}",
                param=f"variables.{unknown[0]}",
            )
        text: dict[str, str] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise PromptVariableError(
                    f"prompt {self.ref}: variable {name!r} must be text or a number, "
                    f"not {type(value).__name__}",
                    param=f"variables.{name}",
                )
            text[name] = str(value)
        messages: list[dict[str, Any]] = []
        spans: list[dict[str, Any]] = []
        for where, template in self._templates:
            content, found = template.render(text, self._untrusted)
            role = "system" if where == "system" else "user"
            if where.startswith("messages["):
                role = self.messages[int(where[9 : where.index("]")])].role
            spans += [_span(len(messages), span) for span in found]
            messages.append({"role": role, "content": content})
        return messages, spans


def _span(message: int, span: Span) -> dict[str, Any]:
    return {"message": message, "variable": span.variable, "start": span.start, "end": span.end}
