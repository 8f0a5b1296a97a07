"""Tools between the formats: function tools ⇄ Anthropic tools, ``tool_choice``, and JSON output.

Anthropic has no ``response_format``. A JSON-schema answer is asked for as a call of one extra tool
whose input schema is the wanted schema (``JSON_TOOL``); its input comes back as the answer's text.
"""

from __future__ import annotations

from typing import Any

from ..errors import RequestError
from ..types import Tool

__all__ = [
    "JSON_OBJECT_INSTRUCTION",
    "JSON_TOOL",
    "from_anthropic_tool_choice",
    "from_anthropic_tools",
    "json_output_tool",
    "to_anthropic_tool_choice",
    "to_anthropic_tools",
]

JSON_TOOL = "json_output"
JSON_OBJECT_INSTRUCTION = "Respond only with one valid JSON object, and nothing before or after it."
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# Anthropic's own (custom) tools have no type or "custom"; server tools carry a versioned type.
_CUSTOM_TYPES = (None, "custom")


def to_anthropic_tools(tools: list[Tool] | None) -> list[dict[str, Any]]:
    """Anthropic tool definitions; ``strict`` is dropped, ``cache_control`` kept.

    Raises:
        RequestError: a tool that is neither a function nor already in Anthropic's shape.
    """
    out = []
    for tool in tools or ():
        raw = tool.wire()
        if raw.get("type") != "function" or not isinstance(raw.get("function"), dict):
            if "name" in raw and "function" not in raw:
                out.append(raw)  # already an Anthropic tool (a server tool, say): sent as given
                continue
            raise RequestError(f"an Anthropic route cannot take tools of type {raw.get('type')!r}")
        function = raw["function"]
        converted: dict[str, Any] = {
            "name": function.get("name") or "",
            "input_schema": function.get("parameters") or _EMPTY_SCHEMA,
        }
        if function.get("description"):
            converted["description"] = function["description"]
        if raw.get("cache_control") is not None:
            converted["cache_control"] = raw["cache_control"]
        out.append(converted)
    return out


def to_anthropic_tool_choice(choice: Any, parallel_tool_calls: Any = None) -> dict[str, Any] | None:
    """``auto``/``none``/``required``→``any``/a named function→``tool``; ``parallel_tool_calls: false``
    becomes ``disable_parallel_tool_use``.

    Raises:
        RequestError: a tool_choice of no known shape.
    """
    if choice is None and parallel_tool_calls is not False:
        return None
    if choice is None or choice == "auto":
        out: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        out = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        out = {"type": "tool", "name": choice["function"].get("name") or ""}
    elif isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"):
        out = dict(choice)  # already Anthropic's shape
    else:
        raise RequestError(f"tool_choice {choice!r} is not auto, none, required or a named function")
    if parallel_tool_calls is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def json_output_tool(response_format: dict[str, Any]) -> dict[str, Any]:
    """The tool whose input is the JSON-schema answer ``response_format`` asks for."""
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") or _EMPTY_SCHEMA
    if schema.get("type") != "object":  # a tool's input is always a JSON object
        raise RequestError("an Anthropic route needs a json_schema whose type is object")
    about = spec.get("description") or f"the {spec.get('name') or 'answer'} schema"
    return {
        "name": JSON_TOOL,
        "description": f"Give the final answer as JSON that matches {about}.",
        "input_schema": schema,
    }


def from_anthropic_tools(tools: Any) -> list[dict[str, Any]] | None:
    """OpenAI function tools for Anthropic's custom tools.

    Raises:
        RequestError: a server tool (web search, code execution, …), which only Anthropic can run.
    """
    if not tools:
        return None
    out = []
    for tool in tools:
        if tool.get("type") not in _CUSTOM_TYPES or "input_schema" not in tool:
            raise RequestError(f"the {tool.get('type') or tool.get('name')!r} tool needs an Anthropic route")
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema")}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def from_anthropic_tool_choice(choice: Any) -> tuple[Any, bool | None]:
    """``(tool_choice, parallel_tool_calls)`` for Anthropic's ``tool_choice``."""
    if not isinstance(choice, dict):
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "any":
        return "required", parallel
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    if kind == "none":
        return "none", None
    return "auto", parallel
