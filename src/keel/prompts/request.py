"""A call that names a prompt: the reference it carries, and the request its version renders.

The caller's side of a prompt call is a ``PromptRef`` in ``call.options["prompt_ref"]`` beside an
unrendered request (the caller's own messages, possibly none). ``rendered_request`` builds what is
really sent: the version's rendered messages, then the caller's (a conversation continues), with the
version's model and parameters. A caller may change the model or a parameter the version sets only
when the version lists it in ``overridable`` (else ``PromptOverrideError`` names it); a parameter
the version leaves unset is the caller's to set (Anthropic's SDK always sends ``max_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..errors import PromptError, PromptOverrideError, RequestError
from ..types import ChatRequest, Message
from .version import PromptVersion

__all__ = ["PromptRef", "parse_prompt_field", "rendered_request", "unrendered"]

_REF = re.compile(r"(?P<name>[^@]+)(?:@(?P<at>[A-Za-z0-9_.\-]+))?")


@dataclass(frozen=True, slots=True)
class PromptRef:
    """Which prompt a call asks for, its variables, and what the caller set on the request itself
    (``given``: model and parameters, checked against ``overridable``)."""

    name: str
    label: str | None = None
    version: int | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    given: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, **fields: Any) -> PromptRef:
        """``summarize``, ``summarize@3`` (a version) or ``summarize@production`` (a label)."""
        match = _REF.fullmatch(text)
        if match is None:
            raise PromptError(
                f"{text!r} is not a prompt reference (name, name@3 or name@label)", param="prompt"
            )
        at = match.group("at")
        if at is not None and at.isdigit():
            fields.setdefault("version", int(at))
        elif at is not None:
            fields.setdefault("label", at)
        return cls(match.group("name"), **fields)


def parse_prompt_field(value: Any, given: Mapping[str, Any]) -> PromptRef:
    """The ``prompt`` object of a request body: ``{"name", "label" | "version", "variables"}``.

    Raises:
        PromptError: 400 naming the field that is wrong.
    """
    if isinstance(value, str):
        return PromptRef.parse(value, given=given)
    if not isinstance(value, dict):
        raise PromptError("'prompt' must be an object: {name, label or version, variables}", param="prompt")
    unknown = sorted(set(value) - {"name", "label", "version", "variables", "id"})
    if unknown:
        raise PromptError(
            f"prompt.{unknown[0]}: unknown field; use name, label, version, variables",
            param=f"prompt.{unknown[0]}",
        )
    name = value.get("name", value.get("id"))
    if not isinstance(name, str) or not name:
        raise PromptError("prompt.name is required: the prompt's name", param="prompt.name")
    label, version = value.get("label"), value.get("version")
    if label is not None and version is not None:
        raise PromptError("give prompt.label or prompt.version, not both", param="prompt.version")
    if label is not None and not isinstance(label, str):
        raise PromptError("prompt.label must be a string", param="prompt.label")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise PromptError("prompt.version must be an integer", param="prompt.version")
    variables = value.get("variables") or {}
    if not isinstance(variables, dict):
        raise PromptError("prompt.variables must be an object of name: value", param="prompt.variables")
    ref = PromptRef.parse(name, given=given)
    return PromptRef(ref.name, label or ref.label, version or ref.version, variables, given)


def unrendered(model: str | None, messages: Iterable[Any], fields: Mapping[str, Any]) -> ChatRequest:
    """The caller's request before its prompt is rendered: no validation of the whole yet (it may
    have no messages); ``rendered_request`` validates what is finally sent. Its ``model`` stands for
    the prompt (``prompt:summarize``) in what runs before the rendering — the call's span, the
    ledger of a call refused before it."""
    listed: list[Message] = []
    for index, message in enumerate(messages):
        try:
            listed.append(message if isinstance(message, Message) else Message.model_validate(message))
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in (f"messages[{index}]", *first["loc"]))
            raise RequestError(f"{where}: {first['msg']}") from None
    return ChatRequest.model_construct(model=model or "", messages=listed, **fields)


def rendered_request(
    version: PromptVersion, ref: PromptRef, request: ChatRequest
) -> tuple[ChatRequest, list[dict[str, Any]]]:
    """The request to send, and the untrusted spans of the rendered messages.

    Raises:
        PromptVariableError, PromptOverrideError: naming the variable or field.
        RequestError: the result is not a valid request (naming the field).
    """
    model = ref.given.get("model") or None
    if model is not None and model != version.model and "model" not in version.overridable:
        raise PromptOverrideError(
            f"prompt {version.ref} fixes the model ({version.model}); it does not let callers choose "
            f"another{_allowed(version)}",
            param="model",
        )
    fixed = dict(version.params)
    if version.response_schema is not None:
        fixed.setdefault("response_format", None)
    for key, value in ref.given.items():
        if key in fixed and fixed[key] != value and key not in version.overridable:
            raise PromptOverrideError(
                f"prompt {version.ref} sets {key!r} and does not let callers change it{_allowed(version)}",
                param=key,
            )
    values = ref.variables
    if request.user and "user" in version.variable_names and "user" not in values:
        values = {**values, "user": request.user}  # the caller's user id fills a declared {user}
    messages, spans = version.render(values)
    body: dict[str, Any] = {**version.params}
    if version.response_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": _schema_name(version.name), "schema": version.response_schema},
        }
    fields = request.model_dump(exclude_unset=True, exclude_none=True, exclude={"model", "messages"})
    body.update(fields)
    body["model"] = model or version.model
    body["messages"] = messages + [m.wire() for m in request.messages]
    try:
        return ChatRequest.model_validate(body), spans
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise PromptError(f"prompt {version.ref}: {where}: {first['msg']}", param=where) from None


def _allowed(version: PromptVersion) -> str:
    if not version.overridable:
        return " (it lists nothing under overridable)"
    return f" (overridable: {', '.join(version.overridable)})"


def _schema_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name)[:64]
