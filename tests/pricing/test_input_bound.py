"""The input-token bound: UTF-8 bytes of what the model reads, plus what carries no bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from keel.pricing import IMAGE_TOKENS, input_token_bound
from keel.types import ChatRequest


def _request(messages: list[dict[str, Any]], **params: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": "gpt-4o", "messages": messages, **params})


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_bound_covers_every_byte_of_text(texts: list[str]) -> None:
    """Each message's UTF-8 bytes count in full: a token covers at least one byte."""
    request = _request([{"role": "user", "content": text} for text in texts])
    assert input_token_bound(request) >= sum(len(text.encode("utf-8")) for text in texts)


def test_multibyte_text_counts_bytes_not_characters() -> None:
    """Four CJK characters are twelve bytes, so they count twelve, not four."""
    short = input_token_bound(_request([{"role": "user", "content": ""}]))
    assert input_token_bound(_request([{"role": "user", "content": "你好世界"}])) - short == 12


def test_settings_are_not_counted() -> None:
    """Sampling settings are not text the model reads."""
    plain = _request([{"role": "user", "content": "hi"}])
    tuned = _request([{"role": "user", "content": "hi"}], temperature=0.2, max_tokens=500, seed=7, user="u-1")
    assert input_token_bound(plain) == input_token_bound(tuned)


def test_each_message_adds_its_framing() -> None:
    """Every message adds framing tokens on top of its text, even an empty one."""
    one = input_token_bound(_request([{"role": "user", "content": "x"}]))
    two = input_token_bound(_request([{"role": "user", "content": "x"}, {"role": "user", "content": ""}]))
    assert two - one >= 8


def test_image_counts_its_bound_not_its_url() -> None:
    """A megabyte data URL and a short link both count one image's bound, not their bytes."""
    parts = [{"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "x"}}]
    short = _request([{"role": "user", "content": parts}])
    parts[1] = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 1_000_000}}
    huge = _request([{"role": "user", "content": parts}])
    assert input_token_bound(short) == input_token_bound(huge) < 1_000_000
    assert input_token_bound(short) > IMAGE_TOKENS


def test_tools_and_schema_count_with_their_instructions() -> None:
    """Tool definitions and a response schema count their JSON text and the wrapper a provider adds."""
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    base = input_token_bound(_request([{"role": "user", "content": "hi"}]))
    with_tools = input_token_bound(_request([{"role": "user", "content": "hi"}], tools=[tool]))
    with_schema = input_token_bound(_request([{"role": "user", "content": "hi"}], response_format=schema))
    assert with_tools - base >= len(json.dumps(tool["function"]["name"])) + 1000
    assert with_schema - base >= len("answer") + 200


def test_tool_calls_and_results_count() -> None:
    """An assistant's tool-call arguments and a tool's result are read by the model too."""
    arguments = '{"city": "Zürich"}'
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21 degrees"},
    ]
    assert input_token_bound(_request(messages)) >= len(arguments.encode()) + len("sunny, 21 degrees") + 3 * 8


def test_native_body_is_what_is_counted() -> None:
    """A request passed through in its client's format is bounded by that body (Anthropic's system too)."""
    request = _request([{"role": "user", "content": "hi"}])
    request.native = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "s" * 5000, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    request.native_format = "anthropic"
    assert input_token_bound(request) >= 5000 + 2
