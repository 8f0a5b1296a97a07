"""Which requests force a tool call (and so need a route with ``supports_tools``)."""

from __future__ import annotations

from typing import Any

import pytest

from keel.policies._tools import forces_tool_call, without_tools
from keel.types import ChatRequest

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


def request(choice: Any, tools: list[dict[str, Any]] | None = None) -> ChatRequest:
    return ChatRequest(
        model="m", messages=[{"role": "user", "content": "hi"}], tools=tools, tool_choice=choice
    )


@pytest.mark.parametrize(
    ("choice", "forced"),
    [
        ("required", True),
        ({"type": "function", "function": {"name": "f"}}, True),
        ({"type": "custom", "custom": {"name": "f"}}, True),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}}, True),
        ({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}, False),
        ("auto", False),
        ("none", False),
        (None, False),
    ],
)
def test_forced_tool_choices(choice: Any, forced: bool) -> None:
    """``required``, a named tool and ``allowed_tools`` in required mode force a call; the rest do not."""
    assert forces_tool_call(request(choice, [TOOL])) is forced


def test_a_tool_choice_without_tools_forces_nothing() -> None:
    """With no tools offered there is no tool call to force."""
    assert not forces_tool_call(request("required"))


def test_without_tools_leaves_out_every_tool_field_and_the_native_body() -> None:
    """The request sent to a route without tools has no tools, tool_choice or parallel_tool_calls,
    and no client body that still has them."""
    given = request("auto", [TOOL])
    given.__pydantic_extra__["parallel_tool_calls"] = False  # type: ignore[index]
    given.native, given.native_format = {"tools": [TOOL]}, "openai"
    sent = without_tools(given)
    assert sent.wire() == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert sent.native is None and given.tools is not None  # the caller's own request is left as it was
