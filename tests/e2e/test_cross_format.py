"""Cross-format calls through ``keel serve``: the ``anthropic`` SDK on an OpenAI-format route and the
``openai`` SDK on a Claude route, streamed and not, tools included. What each side receives is
checked against the SDKs' own types and, for OpenAI, the spec."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.mock import MockServer

from .._support.markers import without_canary
from ..formats.sdk_check import accumulate, check_event, check_message, check_request
from .conftest import RunningKeel, user
from .test_openai_schemas import validate

both = pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
tools = pytest.mark.parametrize("with_tools", [False, True], ids=["text", "tools"])
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEATHER_OPENAI = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": WEATHER_ANTHROPIC["input_schema"]},
}


def sse(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) for each frame of an SSE body."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if frame:
            lines = dict(line.split(": ", 1) for line in frame.split("\n"))
            out.append((lines.get("event"), lines["data"]))
    return out


@both
@tools
def test_anthropic_sdk_on_an_openai_route(
    keel: RunningKeel, upstream: MockServer, uid, stream: bool, with_tools: bool
) -> None:
    """An OpenAI-format route answers an Anthropic client: valid Anthropic wire shapes, the SDK's types."""
    model = uid("ok:tokens=3")
    body: dict[str, Any] = {
        "model": f"mock/{model}",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]}],
        "stream": stream,
    }
    if with_tools:
        body["tools"] = [WEATHER_ANTHROPIC]
    response = httpx.post(f"{keel.base_url}/v1/messages", json=body, timeout=10)
    assert response.status_code == 200
    if stream:
        events = []
        for name, data in sse(response.content):
            event = json.loads(data)
            assert event["type"] == name
            check_event(event)
            events.append(event)
        message = accumulate(events)
    else:
        message = check_message(response.json())
    if with_tools:
        [block] = message.content
        assert block.type == "tool_use" and block.name == "get_weather"
        assert block.input == {"city": "token0 token1 token2"}
        assert message.stop_reason == "tool_use"
    else:
        assert message.content[0].text == "token0 token1 token2"  # type: ignore[union-attr]
        assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == (5 if with_tools else 3)  # a tool call: 4 JSON pieces + 1
    [record] = upstream.attempts(model=model)
    assert record["format"] == "openai"
    sent = record["body"]
    validate(sent, "CreateChatCompletionRequest")
    sent, _ = without_canary(sent)
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


@both
@tools
def test_anthropic_sdk_client_on_an_openai_route(
    claude: anthropic.Anthropic, uid, stream: bool, with_tools: bool
) -> None:
    """The SDK itself, create and stream helper, gets the whole answer from an OpenAI-format route."""
    params: dict[str, Any] = {"max_tokens": 100, "messages": user()}
    if with_tools:
        params["tools"] = [WEATHER_ANTHROPIC]
    model = f"mock/{uid('ok:tokens=3')}"
    if stream:
        with claude.messages.stream(model=model, **params) as events:
            message = events.get_final_message()
    else:
        message = claude.messages.create(model=model, **params)
    expected = "tool_use" if with_tools else "text"
    assert [block.type for block in message.content] == [expected]


@both
@tools
def test_openai_sdk_on_a_claude_route(
    keel: RunningKeel, client: openai.OpenAI, upstream: MockServer, uid, stream: bool, with_tools: bool
) -> None:
    """A Claude route answers an OpenAI client in the spec's shapes and the SDK's types; the route got a
    valid Anthropic request."""
    model = uid("ok:tokens=3")
    body: dict[str, Any] = {"model": f"claude/{model}", "messages": user(), "stream": stream}
    if with_tools:
        body["tools"] = [WEATHER_OPENAI]
    response = httpx.post(f"{keel.v1}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200
    if stream:
        frames = [data for _, data in sse(response.content)]
        assert frames[-1] == "[DONE]"
        chunks = [json.loads(data) for data in frames[:-1]]
        for chunk in chunks:
            validate(chunk, "CreateChatCompletionStreamResponse")
            ChatCompletionChunk.model_validate(chunk)
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1]
    else:
        validate(response.json(), "CreateChatCompletionResponse")
        choice = ChatCompletion.model_validate(response.json()).choices[0]
        text, finish = choice.message.content or "", choice.finish_reason
    assert finish == ("tool_calls" if with_tools else "stop")
    assert text == ("" if with_tools else "token0 token1 token2")
    [record] = upstream.attempts(model=model)
    assert record["format"] == "anthropic"
    check_request(record["body"])

    sdk_body: dict[str, Any] = {"tools": [WEATHER_OPENAI]} if with_tools else {}
    if stream:
        arguments = ""
        for chunk in client.chat.completions.create(
            model=f"claude/{model}", messages=user(), stream=True, **sdk_body
        ):
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                arguments += call.function.arguments or "" if call.function else ""
    else:
        reply = client.chat.completions.create(model=f"claude/{model}", messages=user(), **sdk_body)
        calls = reply.choices[0].message.tool_calls or []
        arguments = calls[0].function.arguments if calls else ""  # type: ignore[union-attr]
    if with_tools:
        assert json.loads(arguments) == {"city": "token0 token1 token2"}


def test_anthropic_answers_from_an_openai_route_carry_stable_msg_ids(keel: RunningKeel, uid) -> None:
    """A /v1/messages answer from an OpenAI-format route has a ``msg_`` id, streamed and not, and the
    same answer (here replayed from the cache) keeps the same id."""
    body: dict[str, Any] = {
        "model": f"mock/{uid('ok:tokens=3')}",
        "max_tokens": 100,
        "temperature": 0,
        "messages": user(),
    }
    ids, caches = [], []
    for stream in (False, True, False, True):
        response = httpx.post(f"{keel.base_url}/v1/messages", json={**body, "stream": stream}, timeout=10)
        assert response.status_code == 200
        caches.append(response.headers.get("x-keel-cache"))
        if stream:
            start = json.loads(sse(response.content)[0][1])
            assert start["type"] == "message_start"
            ids.append(start["message"]["id"])
        else:
            ids.append(check_message(response.json()).id)
    assert caches == ["miss", "hit", "hit", "hit"]
    assert ids[0].startswith("msg_") and "chatcmpl" not in ids[0]
    assert set(ids) == {ids[0]}


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
def test_a_claude_routes_own_msg_id_passes_through(claude: anthropic.Anthropic, uid, stream: bool) -> None:
    """Same-format pass-through keeps the upstream's own ``msg_`` id, which differs per answer."""
    params: dict[str, Any] = {"model": f"claude/{uid('ok:tokens=3')}", "max_tokens": 100, "messages": user()}
    ids = []
    for _ in range(2):
        if stream:
            with claude.messages.stream(**params) as events:
                ids.append(events.get_final_message().id)
        else:
            ids.append(claude.messages.create(**params).id)
    assert all(i.startswith("msg_") for i in ids) and ids[0] != ids[1]
