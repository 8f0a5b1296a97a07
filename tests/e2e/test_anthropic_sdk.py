"""The official ``anthropic`` SDK against ``keel serve`` on Claude routes: messages, the exact event
order, tools, usage with cache tokens, ``anthropic-beta``, the error event, and disconnects."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx2 as httpx
import jsonschema
import pytest

from keel.mock import MockServer
from keel.server.openapi import DOCUMENT

from ..formats.sdk_check import check_event, check_message
from .conftest import RunningKeel
from .test_streaming import closed_within

both = pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
TEN_WORDS = "one two three four five six seven eight nine ten"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def turns(text: str = "Say hello") -> Any:
    return [{"role": "user", "content": text}]


def ask(sdk: anthropic.Anthropic, model: str, stream: bool, **params: Any) -> anthropic.types.Message:
    """The whole answer, by ``create`` or by reading the SDK's stream helper to its end."""
    params = {"max_tokens": 256, "messages": turns(), **params}
    if not stream:
        return sdk.messages.create(model=model, **params)
    with sdk.messages.stream(model=model, **params) as events:
        return events.get_final_message()


def raw_events(keel: RunningKeel, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str, Any]]]:
    """The server's SSE stream as (event name, data) pairs, read over plain HTTP."""
    payload = {"max_tokens": 256, "messages": turns(), "stream": True, **body}
    with httpx.stream("POST", f"{keel.base_url}/v1/messages", json=payload, timeout=10) as response:
        raw = response.read()
    out = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            name, data = frame.split("\n", 1)
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return response, out


@both
def test_a_message(claude: anthropic.Anthropic, upstream: MockServer, uid, stream: bool) -> None:
    """A Claude route answers with the whole text, its stop reason, usage and the upstream's model."""
    model = uid("ok:tokens=5")
    message = ask(claude, f"claude/{model}", stream)
    assert message.content[0].text == "token0 token1 token2 token3 token4"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.model == model
    assert message.usage.output_tokens == 5
    [record] = upstream.attempts(model=model)
    assert record["format"] == "anthropic" and record["stream"] is stream


def test_the_stream_has_anthropics_exact_event_order(
    keel: RunningKeel, claude: anthropic.Anthropic, uid
) -> None:
    """The events arrive in Anthropic's order, ping and thinking included; the SDK sees each type."""
    model = f"claude/{uid('ok:tokens=2,reasoning_tokens=2')}"
    thinking = {"type": "enabled", "budget_tokens": 1024}
    response, events = raw_events(keel, {"model": model, "thinking": thinking})
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [data["delta"]["type"] for name, data in events if name == "content_block_delta"] == [
        "thinking_delta",
        "thinking_delta",
        "signature_delta",
        "text_delta",
        "text_delta",
    ]
    for name, data in events:
        assert data["type"] == name
        check_event(data)
    sdk_events = claude.messages.create(
        model=model,
        max_tokens=2048,
        messages=turns(),
        thinking=thinking,
        stream=True,  # type: ignore[arg-type]
    )
    assert [event.type for event in sdk_events] == [name for name in names if name != "ping"]


@both
def test_tools(claude: anthropic.Anthropic, uid, stream: bool) -> None:
    """A tool use comes back whole: its id, name and input, with stop_reason tool_use."""
    message = ask(claude, f"claude/{uid('ok:tokens=2')}", stream, tools=[WEATHER])
    [block] = message.content
    assert block.type == "tool_use" and block.name == "get_weather" and block.id.startswith("toolu_")
    assert block.input == {"city": "token0 token1"}
    assert message.stop_reason == "tool_use"


@both
def test_usage_with_cache_tokens(claude: anthropic.Anthropic, uid, stream: bool) -> None:
    """Cache reads and writes reach the client as Anthropic reports them, streamed or not."""
    model = f"claude/{uid('ok:tokens=2,cached_tokens=6,cache_write_tokens=3')}"
    usage = ask(claude, model, stream, messages=turns(TEN_WORDS)).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (1, 6, 3)
    assert usage.output_tokens == 2


def keel_schema(instance: Any, name: str) -> None:
    """Raise unless ``instance`` is a valid ``name`` of Keel's own OpenAPI document."""
    jsonschema.Draft202012Validator({**DOCUMENT, "$ref": f"#/components/schemas/{name}"}).validate(instance)


@pytest.mark.parametrize("route", ["claude", "mock"])
def test_answers_and_errors_match_the_sdk_and_keels_document(keel: RunningKeel, uid, route: str) -> None:
    """Raw bodies pass the SDK's own Message type and Keel's OpenAPI schemas, with Keel's headers."""
    body = {"model": f"{route}/{uid('ok')}", "max_tokens": 10, "messages": turns()}
    response = httpx.post(f"{keel.base_url}/v1/messages", json=body, timeout=10)
    assert response.status_code == 200 and response.headers["x-keel-attempts"] == "1"
    assert response.headers["x-keel-route"] == body["model"]
    check_message(response.json())
    keel_schema(response.json(), "AnthropicMessage")
    refused = httpx.post(f"{keel.base_url}/v1/messages", json={**body, "max_tokens": 0}, timeout=10)
    assert refused.status_code == 400
    keel_schema(refused.json(), "AnthropicErrorResponse")


def test_anthropic_beta_and_version_headers(claude: anthropic.Anthropic, upstream: MockServer, uid) -> None:
    """The SDK's anthropic-version is accepted; its anthropic-beta features reach the Anthropic route."""
    model = uid("ok")
    claude.messages.create(
        model=f"claude/{model}",
        max_tokens=10,
        messages=turns(),
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    headers = upstream.attempts(model=model)[0]["headers"]
    assert headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert headers["anthropic-version"] == "2023-06-01"


def test_a_cut_stream_ends_with_an_error_event(keel: RunningKeel, claude: anthropic.Anthropic, uid) -> None:
    """After the commit point a cut is an ``error`` event with no message_stop; the SDK raises on it."""
    model = f"claude/{uid('cut:after=3,tokens=10')}"
    _, events = raw_events(keel, {"model": model})
    assert events[-1][0] == "error" and "message_stop" not in [name for name, _ in events]
    assert events[-1][1]["error"]["type"] == "api_error"
    assert "interrupted" in events[-1][1]["error"]["message"]
    text = ""
    with (
        pytest.raises(anthropic.APIStatusError, match="interrupted"),
        claude.messages.stream(model=model, max_tokens=50, messages=turns()) as stream,
    ):
        for piece in stream.text_stream:
            text += piece
    assert text == "token0 token1 token2"


def test_client_disconnect_closes_the_upstream(
    claude: anthropic.Anthropic, upstream: MockServer, uid
) -> None:
    """A client that leaves mid-stream makes the upstream see its connection closed within 1 s."""
    model = uid("ok:tokens=400,token_ms=20")
    stream = claude.messages.create(model=f"claude/{model}", max_tokens=1000, messages=turns(), stream=True)
    for index, _ in enumerate(stream):
        if index == 4:
            break
    stream.close()
    left = time.monotonic()
    assert closed_within(upstream, model, left) < 1.0
