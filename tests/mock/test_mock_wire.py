"""The healthy answer on the wire: OpenAI's JSON and SSE shapes, tools, JSON modes, auth, validation."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keel.mock import BEHAVIOURS, MockServer

USER: Any = [{"role": "user", "content": "say something nice"}]


async def post(server: MockServer, body: dict[str, Any], **headers: str) -> tuple[int, Any, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/chat/completions", json=body, headers=headers) as response,
    ):
        return response.status, response.headers, await response.read()


def frames(raw: bytes) -> list[Any]:
    """The SSE ``data:`` payloads, JSON-decoded except ``[DONE]``."""
    events = [block.removeprefix(b"data: ") for block in raw.split(b"\n\n") if block]
    return [event.decode() if event == b"[DONE]" else orjson.loads(event) for event in events]


async def test_non_stream_answer_is_a_chat_completion(client: openai.AsyncOpenAI) -> None:
    """A healthy non-streaming reply parses as the SDK's ChatCompletion with deterministic text and usage."""
    reply = await client.chat.completions.with_raw_response.create(model="gpt-4o:tokens=4", messages=USER)
    completion = reply.parse()
    assert isinstance(completion, ChatCompletion)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o:tokens=4"
    assert completion.choices[0].message.content == "token0 token1 token2 token3"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 4)
    assert completion.usage.total_tokens == 7
    assert reply.headers["x-request-id"].startswith("req_mock_")


async def test_default_answer_is_twelve_tokens(client: openai.AsyncOpenAI) -> None:
    """Without ``tokens`` the answer has 12 words."""
    completion = await client.chat.completions.create(model="ok", messages=USER)
    assert completion.choices[0].message.content == " ".join(f"token{i}" for i in range(12))


async def test_stream_sends_role_then_one_token_per_chunk_then_finish_usage_done(server: MockServer) -> None:
    """A stream is a role-only delta, one delta per token, the finish chunk, the usage chunk, then [DONE]."""
    body = {
        "model": "ok:tokens=3",
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    status, headers, raw = await post(server, body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = frames(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    for item in chunks:
        ChatCompletionChunk.model_validate(item)
        assert item["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"]["content"] for c in chunks[1:4]] == ["token0", " token1", " token2"]
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    assert chunks[5]["choices"] == []
    assert chunks[5]["usage"]["completion_tokens"] == 3
    assert len(chunks) == 6


async def test_stream_without_include_usage_has_no_usage_chunk(server: MockServer) -> None:
    """Without ``stream_options.include_usage`` the finish chunk is followed directly by [DONE]."""
    status, _, raw = await post(server, {"model": "ok:tokens=2", "messages": USER, "stream": True})
    events = frames(raw)
    assert status == 200
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1] == "[DONE]"
    assert all("usage" not in event for event in events[:-1])


async def test_sdk_reads_the_stream_and_its_usage(client: openai.AsyncOpenAI) -> None:
    """The openai SDK iterates the stream to the full text and the usage chunk."""
    stream = await client.chat.completions.create(
        model="ok:tokens=5", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    text, usage = "", None
    async for item in stream:
        if item.choices:
            text += item.choices[0].delta.content or ""
        usage = item.usage or usage
    assert text == "token0 token1 token2 token3 token4"
    assert usage is not None and usage.completion_tokens == 5


async def test_tools_get_one_call_to_the_first_tool(client: openai.AsyncOpenAI) -> None:
    """With tools the answer is one call to the first tool, arguments sampled from its schema."""
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "other"}},
    ]
    completion = await client.chat.completions.create(model="ok:tokens=1", messages=USER, tools=tools)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert orjson.loads(call.function.arguments) == {"city": "token0"}  # type: ignore[union-attr]


async def test_tool_choice_picks_the_named_tool_and_none_disables_tools(client: openai.AsyncOpenAI) -> None:
    """``tool_choice`` naming a function calls it; ``tool_choice="none"`` answers with text."""
    tools: Any = [{"type": "function", "function": {"name": n}} for n in ("first", "second")]
    named = await client.chat.completions.create(
        model="ok",
        messages=USER,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "second"}},
    )
    assert named.choices[0].message.tool_calls[0].function.name == "second"  # type: ignore[index,union-attr]
    assert orjson.loads(named.choices[0].message.tool_calls[0].function.arguments) == {}  # type: ignore[index,union-attr]
    plain = await client.chat.completions.create(model="ok", messages=USER, tools=tools, tool_choice="none")
    assert plain.choices[0].finish_reason == "stop"
    assert plain.choices[0].message.tool_calls is None


async def test_streamed_tool_call_arrives_as_tool_call_deltas(client: openai.AsyncOpenAI) -> None:
    """Streaming a tool call sends a header delta with id and name, then argument fragments."""
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                },
            },
        }
    ]
    stream = await client.chat.completions.create(
        model="ok:tokens=2", messages=USER, tools=tools, stream=True
    )
    names, arguments, finish = [], "", None
    async for item in stream:
        delta = item.choices[0].delta
        for call in delta.tool_calls or []:
            assert call.index == 0
            if call.function and call.function.name:
                names.append(call.function.name)
            arguments += (call.function.arguments or "") if call.function else ""
        finish = item.choices[0].finish_reason or finish
    assert names == ["lookup"]
    assert orjson.loads(arguments) == {"q": "token0 token1", "n": 0}
    assert finish == "tool_calls"


async def test_json_modes_answer_with_valid_json(client: openai.AsyncOpenAI) -> None:
    """``json_object`` answers ``{"answer": …}``; ``json_schema`` answers an instance of the schema."""
    plain = await client.chat.completions.create(
        model="ok:tokens=2", messages=USER, response_format={"type": "json_object"}
    )
    assert orjson.loads(plain.choices[0].message.content or "") == {"answer": "token0 token1"}
    schema: Any = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "pages": {"type": "integer"}},
        "required": ["title", "pages"],
    }
    shaped = await client.chat.completions.create(
        model="ok:tokens=1",
        messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "book", "schema": schema}},
    )
    assert orjson.loads(shaped.choices[0].message.content or "") == {"title": "token0", "pages": 0}


async def test_max_tokens_truncates_with_finish_reason_length(client: openai.AsyncOpenAI) -> None:
    """``max_tokens`` below the answer length stops it there with ``finish_reason: length``."""
    completion = await client.chat.completions.create(model="ok:tokens=10", messages=USER, max_tokens=3)
    assert completion.choices[0].message.content == "token0 token1 token2"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


async def test_cached_and_reasoning_tokens_are_reported(client: openai.AsyncOpenAI) -> None:
    """``cached_tokens`` and ``reasoning_tokens`` show in usage details; reasoning counts as completion."""
    messages: Any = [{"role": "user", "content": "one two three four five"}]
    completion = await client.chat.completions.create(
        model="ok:tokens=2,cached_tokens=3,reasoning_tokens=7", messages=messages
    )
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 5
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 7
    assert usage.completion_tokens == 9


async def test_prompt_tokens_count_words_of_all_text_parts(client: openai.AsyncOpenAI) -> None:
    """prompt_tokens counts the words of string contents and text parts, never more than UTF-8 bytes."""
    messages: Any = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello big world"}]},
    ]
    completion = await client.chat.completions.create(model="ok", messages=messages)
    assert completion.usage is not None and completion.usage.prompt_tokens == 5


async def test_request_ids_are_unique(server: MockServer) -> None:
    """Every reply carries its own ``x-request-id``."""
    ids = {(await post(server, {"model": "ok", "messages": USER}))[1]["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": "ok"}, "messages"),
        ({"model": "ok", "messages": []}, "messages"),
    ],
)
async def test_missing_model_or_messages_is_a_400(
    server: MockServer, body: dict[str, Any], param: str
) -> None:
    """A request without ``model`` or ``messages`` gets 400 in OpenAI's error shape naming the param."""
    status, _, raw = await post(server, body)
    assert status == 400
    error = orjson.loads(raw)["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_body_that_is_not_json_is_a_400(server: MockServer) -> None:
    """A body that is not a JSON object gets a 400, never a 500."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/chat/completions", data=b"{nope") as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_bad_parameter_in_model_name_is_a_400(client: openai.AsyncOpenAI) -> None:
    """A model-name parameter of the wrong type is a 400 naming it, before any reply starts."""
    with pytest.raises(openai.BadRequestError, match="token_ms"):
        await client.chat.completions.create(model="ok:token_ms=soon", messages=USER, stream=True)


async def test_models_endpoint_lists_the_behaviours(client: openai.AsyncOpenAI) -> None:
    """``GET /v1/models`` lists every behaviour name as a model."""
    models = [model.id async for model in client.models.list()]
    assert models == list(BEHAVIOURS)


async def test_api_key_is_enforced_when_configured() -> None:
    """With an ``api_key`` the server refuses other keys with 401 ``invalid_api_key`` and accepts its own."""
    mock = MockServer(api_key="sk-mock-secret")
    async with mock.serve() as base_url:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="wrong", max_retries=0) as wrong:
            with pytest.raises(openai.AuthenticationError) as caught:
                await wrong.chat.completions.create(model="ok", messages=USER)
            assert caught.value.code == "invalid_api_key"
            assert "sk-mock-secret" not in str(caught.value)
            with pytest.raises(openai.AuthenticationError):
                await wrong.models.list()
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{base_url}/chat/completions", json={"model": "ok", "messages": USER}) as r,
        ):
            assert r.status == 401
        async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-mock-secret", max_retries=0) as right:
            completion = await right.chat.completions.create(model="ok", messages=USER)
            assert completion.choices[0].message.content
    assert [a["outcome"] for a in mock.attempts()] == ["401", "401", "ok"]


async def test_any_key_is_accepted_without_a_configured_key(server: MockServer) -> None:
    """Without an ``api_key`` any (or no) Authorization header is accepted."""
    status, _, _ = await post(server, {"model": "ok", "messages": USER}, Authorization="Bearer whatever")
    assert status == 200
    status, _, _ = await post(server, {"model": "ok", "messages": USER})
    assert status == 200
