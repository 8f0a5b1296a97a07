"""Whether the proxy enforces a request's structured output, and the ``OutputSpec`` it enforces.

What is enforced: the ``response_format`` (``json_schema``, ``json_object``); else the arguments of
a forced tool call (OpenAI's named ``tool_choice`` or ``required`` with one tool; Anthropic's
``tool`` and ``any``, as they arrive translated); and always, when ``tools`` has functions marked
``strict: true``, the arguments of their calls.

Enforced when the caller asks (``x-keel-validate: true``), when the schema or the function says
``strict: true``, or when the operator lists the model under ``structured_output.enforce`` (``*``:
every model) — unless the caller says ``x-keel-validate: false``. A schema that is not a valid JSON
Schema is the caller's error, refused before any route is asked.
"""

from __future__ import annotations

from typing import Any

from ..config import StructuredOutputConfig
from ..errors import RequestError
from ..types import ChatRequest
from .check import unresolved_refs
from .spec import OutputSpec

__all__ = ["enforced_output"]


def enforced_output(
    request: ChatRequest, asked: bool | None, settings: StructuredOutputConfig
) -> OutputSpec | None:
    """The spec to enforce on ``request``'s answer, or None.

    Raises:
        RequestError: validation asked for without a structured ``response_format``, or a schema
            that is not a JSON Schema.
    """
    if asked is False:
        return None
    response_format = request.response_format or {}
    kind = response_format.get("type")
    configured = "*" in settings.enforce or request.model in settings.enforce
    if kind not in ("json_schema", "json_object"):
        return _tool_output(request, bool(asked or configured), settings, required=bool(asked))
    spec_field = response_format.get("json_schema")
    strict = isinstance(spec_field, dict) and spec_field.get("strict") is True
    if not (asked or strict or configured):
        return None
    try:
        spec = OutputSpec.of_response_format(response_format, max_reasks=settings.max_reasks)
    except ValueError as error:
        raise RequestError(str(error), code="invalid_response_format") from None
    if spec.schema is not None:
        _check_schema(spec.schema)
    return spec


def _tool_output(
    request: ChatRequest, asked: bool, settings: StructuredOutputConfig, *, required: bool
) -> OutputSpec | None:
    """The tool-mode spec: the forced tool's schema when asked, else every ``strict`` function's."""
    functions = {
        str(tool.function.get("name")): tool.function
        for tool in request.tools or ()
        if tool.type == "function"
    }
    forced = _forced_tool(request, functions)
    if asked and forced is not None:
        checked = {forced: functions[forced].get("parameters") or {}}
    else:
        checked = {
            name: f.get("parameters") or {} for name, f in functions.items() if f.get("strict") is True
        }
    if not checked:
        if required:
            raise RequestError(
                "x-keel-validate needs a response_format of type json_schema or json_object, or a forced "
                "tool call, to enforce",
                code="validation_unavailable",
            )
        return None
    for name, schema in checked.items():
        _check_schema(schema, f"tools[{name}].parameters")
    return OutputSpec.of_tools(checked, max_reasks=settings.max_reasks)


def _forced_tool(request: ChatRequest, functions: dict[str, Any]) -> str | None:
    choice: Any = request.tool_choice
    if choice == "required" and len(functions) == 1:
        return next(iter(functions))
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name in functions:
            return str(name)
    return None


def _check_schema(schema: dict[str, Any], field: str = "response_format.json_schema.schema") -> None:
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as error:
        at = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise RequestError(
            f"{field} is not a valid JSON Schema at {at}: {error.message}",
            code="invalid_response_format",
        ) from None
    if missing := unresolved_refs(schema):
        raise RequestError(
            f"{field} refers to what it does not define: {', '.join(sorted(set(missing))[:5])}",
            code="invalid_response_format",
        )
