"""The library on Claude routes, against the mock's Anthropic side over loopback: answers, tools, usage,
thinking, JSON output, dropped parameters, and native pass-through."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

import keel.providers._http
import keel.providers._sse
import keel.providers._stream_reads
import keel.providers.anthropic
from keel import ChatRequest, RequestError
from keel.mock import MockServer
from keel.reply import ChunkStream

from .conftest import complete, user

both = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PROMPT = "one two three four five six seven eight nine ten"


@both
async def test_healthy_answer(claude_for, mock_server: MockServer, uid, stream: bool) -> None:
    """A Claude route answers once, with usage, its route, Anthropic's request id, and a native body."""
    ok = uid("ok:tokens=5")
    response = await complete(claude_for({"smart": [f"claude/{ok}"]}), stream)
    assert response.text == "token0 token1 token2 token3 token4"
    assert response.route == f"claude/{ok}" and response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.output_tokens == 5
    assert [a.outcome for a in response.attempts] == ["ok"]
    assert response.upstream_request_id and response.upstream_request_id.startswith("req_mock_")
    [record] = mock_server.attempts(model=ok)
    assert record["format"] == "anthropic"
    assert record["body"]["messages"] == user() and record["body"]["max_tokens"] == 4096


@both
async def test_tool_calls_arrive_whole(claude_for, uid, stream: bool) -> None:
    """A tool use comes back as a tool call with its id, name and whole JSON arguments (streamed as
    ``input_json_delta`` fragments)."""
    response = await complete(
        claude_for({"smart": [f"claude/{uid('ok:tokens=2')}"]}), stream, tools=[WEATHER]
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.id.startswith("toolu_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "token0 token1"}


async def test_tool_results_reach_anthropic_as_blocks(claude_for, mock_server: MockServer, uid) -> None:
    """An OpenAI tool-call turn and its result reach the upstream as tool_use and tool_result blocks."""
    ok = uid("ok")
    messages = [
        *user("Weather in Oslo?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "3 C"},
    ]
    await claude_for({"smart": [f"claude/{ok}"]}).chat("smart", messages, tools=[WEATHER], tool_choice="none")
    sent = mock_server.attempts(model=ok)[0]["body"]
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    ]
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent["tool_choice"] == {"type": "none"}


@both
async def test_usage_with_cache_tokens_is_normalised(claude_for, uid, stream: bool) -> None:
    """Cache reads and writes count as input and are kept apart, streamed or not."""
    model = uid("ok:tokens=2,cached_tokens=6,cache_write_tokens=3")
    response = await complete(claude_for({"smart": [f"claude/{model}"]}), stream, user(PROMPT))
    usage = response.usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens, usage.output_tokens) == (
        10,
        6,
        3,
        2,
    )


@both
async def test_thinking_is_kept(claude_for, mock_server: MockServer, uid, stream: bool) -> None:
    """``thinking`` reaches Anthropic and the thinking comes back as ``reasoning_content``."""
    model = uid("ok:tokens=2,reasoning_tokens=3")
    thinking = {"type": "enabled", "budget_tokens": 1024}
    response = await complete(claude_for({"smart": [f"claude/{model}"]}), stream, thinking=thinking)
    extra = response.choices[0].message.model_extra or {}
    assert extra["reasoning_content"] == "thought0 thought1 thought2"
    assert response.text == "token0 token1"
    assert mock_server.attempts(model=model)[0]["body"]["thinking"] == thinking
    if not stream:
        assert extra["thinking_blocks"][0]["signature"].startswith("sig_")


@both
async def test_json_schema_through_a_forced_tool(
    claude_for, mock_server: MockServer, uid, stream: bool
) -> None:
    """``response_format`` json_schema is answered through the forced tool: the text is the JSON."""
    model = uid("ok:tokens=1")
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "a",
            "schema": {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
            },
        },
    }
    response = await complete(claude_for({"smart": [f"claude/{model}"]}), stream, response_format=schema)
    assert json.loads(response.text) == {"answer": "token0"}
    assert response.choices[0].finish_reason == "stop"
    assert mock_server.attempts(model=model)[0]["body"]["tool_choice"] == {
        "type": "tool",
        "name": "json_output",
    }


async def test_parameters_anthropic_lacks_are_dropped(claude_for, mock_server: MockServer, uid) -> None:
    """OpenAI-only parameters never reach Anthropic (which would refuse them); n > 1 is refused up front."""
    ok = uid("ok")
    gateway = claude_for({"smart": [f"claude/{ok}"]})
    await gateway.chat(
        "smart", user(), presence_penalty=0.5, seed=7, logprobs=True, logit_bias={"1": 2}, temperature=1.5
    )
    body = mock_server.attempts(model=ok)[0]["body"]
    assert set(body) == {"model", "max_tokens", "messages", "temperature"} and body["temperature"] == 1.0
    with pytest.raises(RequestError, match="n=2"):
        await gateway.chat("smart", user(), n=2)
    assert len(mock_server.attempts(model=ok)) == 1


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> bytearray:
    """Every response body byte the Anthropic adapter receives: a whole body as aiohttp reads it, or a
    stream's reads as they reach the event parser."""
    received = bytearray()

    async def on_chunk(session: Any, context: Any, params: aiohttp.TraceResponseChunkReceivedParams) -> None:
        received.extend(params.chunk)

    trace = aiohttp.TraceConfig()
    trace.on_response_chunk_received.append(on_chunk)
    monkeypatch.setattr(
        keel.providers._http, "new_session", lambda: aiohttp.ClientSession(trace_configs=[trace])
    )

    class Tapped(keel.providers._sse.SSEDecoder):
        def feed(self, block: bytes) -> list[tuple[str, bytes]]:
            received.extend(block)
            return super().feed(block)

    monkeypatch.setattr(keel.providers._stream_reads, "SSEDecoder", Tapped)
    return received


NATIVE: dict[str, Any] = {
    "model": "smart",
    "max_tokens": 3000,
    "system": [{"type": "text", "text": "Long policy.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "messages": [
        {
            "role": "user",
            "content": [{"type": "text", "text": "First question", "cache_control": {"type": "ephemeral"}}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Earlier thoughts.", "signature": "sig_earlier"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Earlier answer."},
            ],
        },
        {"role": "user", "content": "Next question"},
    ],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "top_k": 5,
    "metadata": {"user_id": "u-1"},
}


@both
async def test_native_pass_through(
    claude_for, mock_server: MockServer, uid, wire: bytearray, stream: bool
) -> None:
    """An Anthropic-format request reaches Anthropic unchanged (thinking blocks, cache_control and all,
    but the route's model), and the answer's native bytes are exactly what the upstream sent."""
    model = uid("ok:tokens=3")
    gateway = claude_for({"smart": [f"claude/{model}"]})
    request = ChatRequest(model="smart", messages=[{"role": "user", "content": "ignored"}])
    request.native, request.native_format = NATIVE, "anthropic"
    reply = await gateway.call(request, stream=stream)
    if stream:
        assert isinstance(reply, ChunkStream)
        chunks = [chunk async for chunk in reply]
        sent = b"".join(
            b"event: %s\ndata: %s\n\n" % ((n.event or "").encode(), n.data) for c in chunks for n in c.native
        )
        assert [n.event for n in chunks[0].native] == ["message_start"]
        assert [n.event for n in chunks[-1].native][-1] == "message_stop"
    else:
        assert not isinstance(reply, ChunkStream) and reply.native is not None
        sent = reply.native.data
        assert reply.text == "token0 token1 token2"
    assert sent == bytes(wire)
    body = mock_server.attempts(model=model)[0]["body"]
    expected = {**NATIVE, "model": model}
    if stream:
        expected["stream"] = True
    assert body == expected
