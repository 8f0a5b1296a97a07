"""The mock's Anthropic side: healthy Messages answers and errors, checked with the official SDK."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from keel.mock import MockServer

USER: Any = [{"role": "user", "content": "what is the weather like in Oslo today"}]
WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def root(server: MockServer) -> str:
    return (server.base_url or "").removesuffix("/v1")


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` per SSE frame of a well-formed stream."""
    out = []
    for frame in raw.split(b"\n\n"):
        if frame:
            name, data = frame.split(b"\n", 1)
            out.append((name.removeprefix(b"event: ").decode(), orjson.loads(data.removeprefix(b"data: "))))
    return out


async def post(session: aiohttp.ClientSession, server: MockServer, body: dict[str, Any]) -> tuple[int, bytes]:
    async with session.post(f"{root(server)}/v1/messages", json=body) as response:
        return response.status, await response.read()


async def test_a_healthy_message(claude: anthropic.AsyncAnthropic, server: MockServer) -> None:
    """``ok`` answers a Message with ``tokens`` words, ``end_turn``, the usage and a request id."""
    message = await claude.messages.create(model="ok:tokens=3", max_tokens=100, messages=USER)
    assert message.id.startswith("msg_") and message.model == "ok:tokens=3"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "token0 token1 token2"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (8, 3)
    assert message._request_id and message._request_id.startswith("req_mock_")


async def test_usage_splits_cache_reads_and_writes(claude: anthropic.AsyncAnthropic) -> None:
    """``cached_tokens`` and ``cache_write_tokens`` come out of the input as cache reads and writes."""
    message = await claude.messages.create(
        model="ok:cached_tokens=5,cache_write_tokens=2", max_tokens=100, messages=USER
    )
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (1, 5, 2)


async def test_the_stream_has_anthropics_exact_event_order(
    server: MockServer, session: aiohttp.ClientSession
) -> None:
    """message_start, content_block_start, ping, one delta per token, stops, message_delta, message_stop."""
    status, raw = await post(
        session, server, {"model": "ok:tokens=3", "max_tokens": 50, "messages": USER, "stream": True}
    )
    assert status == 200
    stream = events(raw)
    assert [name for name, _ in stream] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in stream)
    assert [data["delta"]["text"] for name, data in stream if name == "content_block_delta"] == [
        "token0",
        " token1",
        " token2",
    ]
    assert stream[0][1]["message"]["usage"]["input_tokens"] == 8
    assert stream[-2][1]["usage"] == {"output_tokens": 3}
    assert stream[-2][1]["delta"]["stop_reason"] == "end_turn"


async def test_the_sdk_streams_it(claude: anthropic.AsyncAnthropic) -> None:
    """The SDK's stream helper assembles the streamed answer and its usage."""
    async with claude.messages.stream(
        model="ok:tokens=4,cached_tokens=3", max_tokens=50, messages=USER
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "token0 token1 token2 token3"
    assert (final.usage.output_tokens, final.usage.cache_read_input_tokens) == (4, 3)


@pytest.mark.parametrize("streamed", [False, True])
async def test_tools_give_a_tool_use(claude: anthropic.AsyncAnthropic, streamed: bool) -> None:
    """With tools, the answer is one ``tool_use`` of the first (or chosen) tool, input from its schema."""
    params: Any = {"model": "ok:tokens=2", "max_tokens": 50, "messages": USER, "tools": [WEATHER]}
    if streamed:
        async with claude.messages.stream(**params) as stream:
            message = await stream.get_final_message()
    else:
        message = await claude.messages.create(**params)
    assert message.stop_reason == "tool_use"
    [call] = message.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.id.startswith("toolu_")
    assert call.input == {"city": "token0 token1"}


async def test_tool_choice_none_answers_in_text(claude: anthropic.AsyncAnthropic) -> None:
    """``tool_choice: none`` gives a text answer despite the tools."""
    message = await claude.messages.create(
        model="ok", max_tokens=50, messages=USER, tools=[WEATHER], tool_choice={"type": "none"}
    )
    assert message.content[0].type == "text"


@pytest.mark.parametrize("streamed", [False, True])
async def test_thinking_comes_first_when_enabled(claude: anthropic.AsyncAnthropic, streamed: bool) -> None:
    """``thinking: enabled`` adds a signed thinking block before the answer, counted in output tokens."""
    params: Any = {
        "model": "ok:tokens=2,reasoning_tokens=4",
        "max_tokens": 2000,
        "messages": USER,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    if streamed:
        async with claude.messages.stream(**params) as stream:
            message = await stream.get_final_message()
    else:
        message = await claude.messages.create(**params)
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == "thought0 thought1 thought2 thought3"
    assert thinking.signature.startswith("sig_")
    assert text.type == "text" and text.text == "token0 token1"
    assert message.usage.output_tokens == 6


async def test_max_tokens_cuts_the_answer(claude: anthropic.AsyncAnthropic) -> None:
    """A ``max_tokens`` below the answer's length cuts it there, with ``stop_reason: max_tokens``."""
    message = await claude.messages.create(model="ok:tokens=10", max_tokens=2, messages=USER)
    assert message.content[0].text == "token0 token1"  # type: ignore[union-attr]
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("model", "error", "status", "kind", "outcome"),
    [
        ("rate-limit:retry_after=2", anthropic.RateLimitError, 429, "rate_limit_error", "429"),
        ("error-500", anthropic.InternalServerError, 500, "api_error", "500"),
        ("error-503", anthropic.OverloadedError, 529, "overloaded_error", "529"),
        ("overloaded", anthropic.OverloadedError, 529, "overloaded_error", "529"),
        ("context-length", anthropic.BadRequestError, 400, "invalid_request_error", "400_context_length"),
        ("content-policy", anthropic.BadRequestError, 400, "invalid_request_error", "400_content_policy"),
        ("auth-error", anthropic.AuthenticationError, 401, "authentication_error", "401"),
        ("not-found", anthropic.NotFoundError, 404, "not_found_error", "404"),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_errors_are_anthropics(
    claude: anthropic.AsyncAnthropic,
    server: MockServer,
    model: str,
    error: type[anthropic.APIStatusError],
    status: int,
    kind: str,
    outcome: str,
    streamed: bool,
) -> None:
    """Each fault answers with Anthropic's status and error type, so the SDK raises its own class."""
    with pytest.raises(error) as info:
        await claude.messages.create(model=model, max_tokens=50, messages=USER, stream=streamed)
    assert info.value.status_code == status
    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"] == info.value.request_id
    [record] = server.attempts()
    assert (record["outcome"], record["format"], record["stream"]) == (outcome, "anthropic", streamed)


async def test_error_wording_classifies(claude: anthropic.AsyncAnthropic) -> None:
    """Context length says "prompt is too long"; a rate limit carries ``retry-after``."""
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long: 8193 tokens > 8192 maximum"):
        await claude.messages.create(model="context-length", max_tokens=50, messages=USER)
    with pytest.raises(anthropic.RateLimitError) as info:
        await claude.messages.create(model="rate-limit:retry_after=2", max_tokens=50, messages=USER)
    assert info.value.response.headers["retry-after"] == "2"


async def test_context_length_with_a_prompt_limit_answers_short_prompts(
    claude: anthropic.AsyncAnthropic,
) -> None:
    """``prompt_limit`` refuses only longer prompts, counting the system prompt too."""
    await claude.messages.create(model="context-length:prompt_limit=20", max_tokens=50, messages=USER)
    with pytest.raises(anthropic.BadRequestError):
        await claude.messages.create(
            model="context-length:prompt_limit=10",
            max_tokens=50,
            messages=USER,
            system="be brief and kind please",
        )


async def test_no_prefill_refuses_a_trailing_assistant_message(
    claude: anthropic.AsyncAnthropic, server: MockServer
) -> None:
    """``no-prefill`` answers normally unless the conversation ends with an assistant turn."""
    await claude.messages.create(model="no-prefill", max_tokens=50, messages=USER)
    with pytest.raises(anthropic.BadRequestError, match="prefill"):
        await claude.messages.create(
            model="no-prefill", max_tokens=50, messages=[*USER, {"role": "assistant", "content": "It is"}]
        )
    assert [a["outcome"] for a in server.attempts()] == ["ok", "400_prefill"]
    assert server.attempts()[1]["last_role"] == "assistant"


@pytest.mark.parametrize(
    "content", ["It is ", [{"type": "text", "text": "It is\n"}]], ids=["string", "blocks"]
)
async def test_a_prefill_ending_in_whitespace_is_refused(
    claude: anthropic.AsyncAnthropic, server: MockServer, content: Any
) -> None:
    """As the Messages API does: 400 when the final assistant content ends in whitespace."""
    with pytest.raises(anthropic.BadRequestError, match="cannot end with trailing whitespace"):
        await claude.messages.create(
            model="ok", max_tokens=50, messages=[*USER, {"role": "assistant", "content": content}]
        )
    assert [a["outcome"] for a in server.attempts()] == ["400_invalid_request"]


async def test_a_prefill_of_the_answer_is_continued(claude: anthropic.AsyncAnthropic) -> None:
    """A trailing assistant turn that begins the answer gets the rest of it, so prefill + reply is whole."""
    prefill = "token0 token1 token2"
    turns: Any = [*USER, {"role": "assistant", "content": [{"type": "text", "text": prefill}]}]
    reply = await claude.messages.create(model="ok:tokens=5", max_tokens=50, messages=turns)
    assert prefill + reply.content[0].text == "token0 token1 token2 token3 token4"  # type: ignore[union-attr]
    assert reply.usage.output_tokens == 2
    async with claude.messages.stream(model="ok:tokens=5", max_tokens=50, messages=turns) as stream:
        assert prefill + await stream.get_final_text() == "token0 token1 token2 token3 token4"


async def test_a_prefill_that_is_not_the_answer_gets_the_whole_answer(
    claude: anthropic.AsyncAnthropic,
) -> None:
    """A prefill the mock would not have said (or cut mid-word) is ignored: the whole answer comes back."""
    for prefill in ("Sure, here", "token0 tok"):
        turns: Any = [*USER, {"role": "assistant", "content": prefill}]
        reply = await claude.messages.create(model="ok:tokens=3", max_tokens=50, messages=turns)
        assert reply.content[0].text == "token0 token1 token2"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "ok", "messages": USER}, "max_tokens: Field required"),
        ({"model": "ok", "max_tokens": 5}, "messages: Field required"),
        ({"model": "ok", "max_tokens": 5, "messages": USER, "n": 2}, "n: Extra inputs are not permitted"),
        (
            {"model": "ok", "max_tokens": 5, "messages": USER, "presence_penalty": 1},
            "presence_penalty: Extra inputs are not permitted",
        ),
    ],
)
async def test_requests_are_validated_as_anthropic_does(
    server: MockServer, session: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    """A missing required field or a field the API does not define is a 400 ``invalid_request_error``."""
    status, raw = await post(session, server, body)
    assert status == 400
    assert json.loads(raw)["error"] == {"type": "invalid_request_error", "message": message}
    assert [(a["outcome"], a["format"]) for a in server.attempts()] == [("400_invalid_request", "anthropic")]


async def test_the_record_keeps_the_body_and_format(
    claude: anthropic.AsyncAnthropic, server: MockServer, client: Any
) -> None:
    """Both sides share one attempt log; each record names the format it came in."""
    system: Any = [{"type": "text", "text": "Policy.", "cache_control": {"type": "ephemeral"}}]
    await claude.messages.create(model="ok:id=a", max_tokens=50, messages=USER, system=system)
    await client.chat.completions.create(model="ok:id=b", messages=[{"role": "user", "content": "hi"}])
    first, second = server.attempts()
    assert (first["format"], second["format"]) == ("anthropic", "openai")
    assert first["body"] == {"model": "ok:id=a", "max_tokens": 50, "messages": USER, "system": system}
    assert first["request_id"].startswith("req_mock_")


async def test_an_api_key_is_checked_as_x_api_key_or_bearer() -> None:
    """With a key, the mock takes it as ``x-api-key`` or a bearer token (what SDK 2.x sends), never echoed."""
    mock = MockServer(api_key="sk-ant-right")
    async with mock.serve():
        base = root(mock)
        async with anthropic.AsyncAnthropic(base_url=base, api_key="sk-ant-right", max_retries=0) as sdk:
            await sdk.messages.create(model="ok", max_tokens=5, messages=USER)
        async with aiohttp.ClientSession() as session:
            body = {"model": "ok", "max_tokens": 5, "messages": USER}
            async with session.post(
                f"{base}/v1/messages", json=body, headers={"x-api-key": "sk-ant-right"}
            ) as ok:
                assert ok.status == 200
            async with session.post(
                f"{base}/v1/messages", json=body, headers={"x-api-key": "sk-ant-wrong"}
            ) as bad:
                assert bad.status == 401
                refused = await bad.read()
        assert json.loads(refused)["error"]["type"] == "authentication_error"
        assert b"sk-ant" not in refused
        assert [a["outcome"] for a in mock.attempts()] == ["ok", "ok", "401"]
