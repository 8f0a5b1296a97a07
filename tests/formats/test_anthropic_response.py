"""Complete answers Anthropic ⇄ OpenAI: content, tool calls, thinking, JSON answers, stop reasons, usage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keel.formats.anthropic_response import from_anthropic_message, to_anthropic_message, to_anthropic_usage
from keel.formats.anthropic_tools import JSON_TOOL
from keel.types import ChatResponse, Choice, Message, ToolCall, Usage

from .sdk_check import check_message

USAGE = {
    "input_tokens": 12,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 20,
    "output_tokens": 9,
}


def anthropic_message(*content: dict[str, Any], stop_reason: str = "end_turn") -> dict[str, Any]:
    raw = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": list(content),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": USAGE,
    }
    check_message(raw)
    return raw


def test_text_answer_with_usage_normalised() -> None:
    """Text blocks become the content; cache reads and writes count as input and are kept apart."""
    response = from_anthropic_message(
        anthropic_message({"type": "text", "text": "Hello"}, {"type": "text", "text": " there"})
    )
    assert (response.id, response.model, response.text) == ("msg_01", "claude-haiku-4-5", "Hello there")
    assert response.choices[0].finish_reason == "stop"
    assert response.usage == Usage(
        input_tokens=132, output_tokens=9, cached_input_tokens=100, cache_write_tokens=20
    )


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("model_context_window_exceeded", "length"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop: str, finish: str) -> None:
    """Each Anthropic stop reason maps to OpenAI's finish reason; an unknown one reads as ``stop``."""
    raw = anthropic_message({"type": "text", "text": "x"})
    raw["stop_reason"] = stop
    assert from_anthropic_message(raw).choices[0].finish_reason == finish


def test_tool_use_becomes_tool_calls() -> None:
    """Tool-use blocks become tool calls whose arguments are the input as JSON text."""
    response = from_anthropic_message(
        anthropic_message(
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            stop_reason="tool_use",
        )
    )
    message = response.choices[0].message
    assert message.text() == "Checking."
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments or "")) == (
        "toolu_1",
        "get_weather",
        {"city": "Oslo"},
    )
    assert response.choices[0].finish_reason == "tool_calls"


def test_thinking_is_kept() -> None:
    """Thinking text is ``reasoning_content``; the blocks (signed or redacted) are ``thinking_blocks``."""
    thinking = {"type": "thinking", "thinking": "Let me think.", "signature": "sig-1"}
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    response = from_anthropic_message(anthropic_message(thinking, redacted, {"type": "text", "text": "42"}))
    extra = response.choices[0].message.model_extra or {}
    assert response.text == "42"
    assert extra["reasoning_content"] == "Let me think."
    assert extra["thinking_blocks"] == [thinking, redacted]


def test_forced_json_tool_becomes_the_text_answer() -> None:
    """The JSON tool's input is the answer's text, with finish ``stop`` and no tool call."""
    raw = anthropic_message(
        {"type": "text", "text": "Here you go:"},
        {"type": "tool_use", "id": "toolu_2", "name": JSON_TOOL, "input": {"a": "b"}},
        stop_reason="tool_use",
    )
    response = from_anthropic_message(raw, json_tool=JSON_TOOL)
    assert json.loads(response.text) == {"a": "b"}
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].finish_reason == "stop"


def test_not_a_message_is_refused() -> None:
    """A body that is not an Anthropic message raises ValueError (the adapter calls it malformed)."""
    for raw in ({"type": "error"}, [], {"type": "message", "content": "text"}):
        with pytest.raises(ValueError):
            from_anthropic_message(raw)


def test_canonical_response_becomes_an_anthropic_message_the_sdk_accepts() -> None:
    """Text, tool calls, finish reason and usage become a Message the official SDK validates."""
    response = ChatResponse(
        id="chatcmpl-1",
        model="gpt-4o-mini",
        choices=[
            Choice(
                message=Message(
                    role="assistant",
                    content="Checking.",
                    tool_calls=[
                        ToolCall(
                            id="call_1", function={"name": "get_weather", "arguments": '{"city":"Oslo"}'}
                        )
                    ],
                ),
                finish_reason="tool_calls",
            )
        ],
        usage=Usage(input_tokens=50, output_tokens=7, cached_input_tokens=40),
    )
    message = check_message(to_anthropic_message(response))
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"city": "Oslo"}  # type: ignore[union-attr]
    assert (
        message.usage.input_tokens,
        message.usage.cache_read_input_tokens,
        message.usage.output_tokens,
    ) == (
        10,
        40,
        7,
    )


def test_reasoning_from_an_openai_route_becomes_a_thinking_block() -> None:
    """``reasoning_content`` (e.g. from a vLLM reasoning model) is shown to Anthropic clients as thinking."""
    response = ChatResponse(
        choices=[
            Choice(
                message=Message(role="assistant", content="42", reasoning_content="Hmm."),
                finish_reason="length",
            )
        ]
    )
    message = check_message(to_anthropic_message(response))
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("finish", ["stop", "length", "tool_calls", "content_filter"])
def test_finish_reasons_round_trip(finish: str) -> None:
    """OpenAI's finish reasons survive a trip through Anthropic's stop reasons."""
    response = ChatResponse(
        choices=[Choice(message=Message(role="assistant", content="x"), finish_reason=finish)]
    )
    raw = to_anthropic_message(response)
    raw["model"] = "m"
    assert from_anthropic_message(raw).choices[0].finish_reason == finish


def test_anthropic_message_round_trip() -> None:
    """Anthropic → canonical → Anthropic keeps content blocks (thinking included), stop reason and usage."""
    raw = anthropic_message(
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        stop_reason="tool_use",
    )
    again = to_anthropic_message(from_anthropic_message(raw))
    check_message(again)
    assert again["content"] == raw["content"]
    assert (again["id"], again["stop_reason"]) == (raw["id"], raw["stop_reason"])
    assert again["usage"] == USAGE


def test_usage_to_anthropic_splits_the_cache_out() -> None:
    """Canonical usage becomes Anthropic's: uncached input, cache reads and writes, output."""
    usage = Usage(input_tokens=100, output_tokens=5, cached_input_tokens=60, cache_write_tokens=30)
    assert to_anthropic_usage(usage) == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "output_tokens": 5,
    }
    assert to_anthropic_usage(None)["input_tokens"] == 0
