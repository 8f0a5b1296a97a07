"""Tools and routes that cannot call them: which requests force a tool call, and the request such a
route is sent instead when the tools are optional.

"Forced" is OpenAI's ``tool_choice: "required"``, a named function (or custom tool), or
``allowed_tools`` in ``required`` mode; Anthropic's ``{"type": "any"}`` and ``{"type": "tool"}``
arrive as the first two. Tools given with no ``tool_choice`` count as ``auto``: optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..route import Route
    from ..types import ChatRequest

__all__ = ["drops_tools", "forces_tool_call", "takes", "without_tools"]

_NAMED = ("function", "custom", "tool", "any")  # the last two: Anthropic's shapes, passed through as given
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")


def forces_tool_call(request: ChatRequest) -> bool:
    """Whether the request offers tools and requires the answer to call one."""
    choice: Any = request.tool_choice
    if not request.tools or choice is None:
        return False
    if isinstance(choice, str):
        return choice == "required"
    kind = choice.get("type")
    if kind == "allowed_tools":
        return (choice.get("allowed_tools") or {}).get("mode") == "required"
    return kind in _NAMED


def takes(route: Route, request: ChatRequest) -> bool:
    """Whether ``route`` can honour the request: a forced tool call needs ``supports_tools``."""
    return route.capabilities.supports_tools or not forces_tool_call(request)


def drops_tools(route: Route, request: ChatRequest) -> bool:
    """Whether the request's (optional) tools must be left out for ``route``, which cannot call tools."""
    return bool(request.tools) and not route.capabilities.supports_tools


def without_tools(request: ChatRequest) -> ChatRequest:
    """The request with its tools, ``tool_choice`` and ``parallel_tool_calls`` left out; the client's own
    body goes too (it still has them), so the route is sent the canonical request."""
    update: dict[str, Any] = dict.fromkeys(_TOOL_FIELDS)
    update.update(native=None, native_format=None)
    return request.model_copy(update=update)
