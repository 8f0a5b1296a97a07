"""The official openai SDK against ``keel serve``: chat, streams, tools, JSON output, models, embeddings."""

from __future__ import annotations

import json

import httpx2 as httpx
import openai

from keel.mock import MockServer

from .conftest import RunningKeel, user

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_chat(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """A plain chat completion comes back whole, naming the upstream model, with usage."""
    model = uid("ok:tokens=5")
    reply = client.chat.completions.create(model=f"mock/{model}", messages=user())
    assert reply.choices[0].message.content == "token0 token1 token2 token3 token4"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == model
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    assert len(upstream.attempts(model=model)) == 1


def test_configured_alias(client: openai.OpenAI) -> None:
    """A configured model name answers through its cascade."""
    reply = client.chat.completions.create(model="fast", messages=user())
    assert reply.choices[0].message.content == "token0 token1 token2"


def test_stream_assembles_and_has_no_usage_unless_asked(client: openai.OpenAI, uid) -> None:
    """Streamed deltas assemble to the answer; without include_usage no chunk carries usage."""
    chunks = list(
        client.chat.completions.create(model=f"mock/{uid('ok:tokens=6')}", messages=user(), stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "token0 token1 token2 token3 token4 token5"
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_usage_in_last_chunk_when_asked(client: openai.OpenAI, uid) -> None:
    """With stream_options.include_usage the last chunk has no choices and the usage."""
    stream = client.chat.completions.create(
        model=f"mock/{uid('ok:tokens=4')}",
        messages=user(),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 4 and last.usage.total_tokens == last.usage.prompt_tokens + 4


def test_tools_round_trip(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """A tool call comes back whole; the tool's result travels upstream exactly as written."""
    model = f"mock/{uid('ok')}"
    messages = user("Weather in Oslo?")
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    follow_up = [
        *messages,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 3}'},
    ]
    second = client.chat.completions.create(
        model=model, messages=follow_up, tools=[WEATHER], tool_choice="none"
    )
    assert second.choices[0].message.content
    sent = upstream.attempts(model=model.removeprefix("mock/"))[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == call.function.arguments
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 3}'}


def test_streamed_tool_call(client: openai.OpenAI, uid) -> None:
    """A streamed tool call's fragments assemble to the call's complete JSON arguments."""
    stream = client.chat.completions.create(
        model=f"mock/{uid('ok')}", messages=user("Weather?"), tools=[WEATHER], stream=True
    )
    arguments = ""
    names = []
    for chunk in stream:
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += delta_call.function.arguments or ""
            names.append(delta_call.function.name)
    assert "get_weather" in names and "city" in json.loads(arguments)


def test_json_schema_output(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """response_format json_schema reaches the upstream and the JSON answer comes back intact."""
    model = uid("ok")
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            },
        },
    }
    reply = client.chat.completions.create(model=f"mock/{model}", messages=user(), response_format=schema)
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)
    assert upstream.attempts(model=model)[0]["body"]["response_format"] == schema


def test_models_list(client: openai.OpenAI) -> None:
    """GET /v1/models lists the configured model names in OpenAI's list shape."""
    assert [model.id for model in client.models.list()] == ["fast"]
    assert client.models.retrieve("fast").id == "fast"


def test_embeddings(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """Embeddings pass through to the route's /embeddings, one vector per input."""
    model = uid("ok")
    result = client.embeddings.create(model=f"mock/{model}", input=["one", "two"])
    assert [item.index for item in result.data] == [0, 1]
    assert all(len(item.embedding) == 8 for item in result.data)
    assert result.model == model
    assert upstream.attempts(model=model)[0]["body"]["input"] == ["one", "two"]


def test_keel_options_never_reach_the_upstream(keel: RunningKeel, upstream: MockServer, uid) -> None:
    """The keel body field and x-keel-* headers are Keel's; the upstream sees neither."""
    model = uid("ok")
    body = {"model": f"mock/{model}", "messages": user(), "keel": {"timeout": 5}, "metadata": {"a": "b"}}
    reply = httpx.post(f"{keel.v1}/chat/completions", json=body, headers={"x-keel-timeout": "4"})
    assert reply.status_code == 200
    sent = upstream.attempts(model=model)[0]
    assert "keel" not in sent["body"] and sent["body"]["metadata"] == {"a": "b"}
    assert not any(name.startswith("x-keel") for name in sent["headers"])
