"""Behaviours that answer with an HTTP error: 429, 500, 503, 400s, 401, 404, and a flapping route."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from keel.mock import MockServer

USER: Any = [{"role": "user", "content": "hello there"}]


async def post(
    server: MockServer, model: str, *, stream: bool = False, messages: Any = USER
) -> tuple[int, Any, Any]:
    body = {"model": model, "messages": messages, "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/chat/completions", json=body) as response,
    ):
        raw = await response.read()
        return response.status, response.headers, orjson.loads(raw) if response.status != 200 else raw


async def test_rate_limit_sends_429_with_retry_after_seconds_and_ms(client: openai.AsyncOpenAI) -> None:
    """``rate-limit:retry_after=1.5`` is a 429 with ``Retry-After: 1.5`` and ``retry-after-ms: 1500``."""
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="rate-limit:retry_after=1.5", messages=USER)
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.type == "rate_limit_exceeded"
    assert error.response.headers["retry-after"] == "1.5"
    assert error.response.headers["retry-after-ms"] == "1500"
    assert error.response.headers["x-request-id"].startswith("req_mock_")


async def test_rate_limit_without_retry_after_sends_no_header(server: MockServer) -> None:
    """``rate-limit`` alone is a 429 without any Retry-After header, on every request."""
    for _ in range(3):
        status, headers, _ = await post(server, "rate-limit")
        assert status == 429
        assert "retry-after" not in headers and "retry-after-ms" not in headers
    assert [a["outcome"] for a in server.attempts()] == ["429"] * 3


async def test_rate_limit_can_send_retry_after_as_an_http_date(server: MockServer) -> None:
    """``retry_after_date=1`` sends Retry-After as an HTTP date that far ahead, and no ms header."""
    status, headers, _ = await post(server, "rate-limit:retry_after=3,retry_after_date=1")
    assert status == 429
    ahead = parsedate_to_datetime(headers["retry-after"]).timestamp() - time.time()
    assert 2 <= ahead <= 4
    assert "retry-after-ms" not in headers


async def test_rate_limit_ms_header_can_be_left_out(server: MockServer) -> None:
    """``ms_header=0`` sends only ``Retry-After``, so a client's seconds parsing is exercised."""
    _, headers, _ = await post(server, "rate-limit:retry_after=2,ms_header=0")
    assert headers["retry-after"] == "2"
    assert "retry-after-ms" not in headers


async def test_rate_limit_times_fails_first_n_then_answers(server: MockServer) -> None:
    """``times=2`` fails the first two requests for that model name, then it is healthy."""
    statuses = [(await post(server, "rate-limit:times=2"))[0] for _ in range(4)]
    assert statuses == [429, 429, 200, 200]
    outcomes = [a["outcome"] for a in server.attempts(model="rate-limit:times=2")]
    assert outcomes == ["429", "429", "ok", "ok"]


async def test_error_500_fails_once_by_default(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """``error-500`` is a 500 ``server_error`` the first time, then healthy."""
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="error-500", messages=USER)
    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    completion = await client.chat.completions.create(model="error-500", messages=USER)
    assert completion.choices[0].message.content
    assert [a["outcome"] for a in server.attempts()] == ["500", "ok"]


async def test_error_500_times_makes_it_persistent_for_n(server: MockServer) -> None:
    """``error-500:times=3`` fails three times before answering."""
    statuses = [(await post(server, "error-500:times=3"))[0] for _ in range(4)]
    assert statuses == [500, 500, 500, 200]


async def test_error_503_is_persistent_by_default(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """``error-503`` answers 503 on every request (streaming or not) unless ``times`` is given."""
    for stream in (False, True, False):
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="error-503", messages=USER, stream=stream)
        assert caught.value.status_code == 503
    assert [(a["stream"], a["outcome"]) for a in server.attempts()] == [
        (False, "503"),
        (True, "503"),
        (False, "503"),
    ]
    assert [(await post(server, "error-503:times=1"))[0] for _ in range(2)] == [503, 200]


async def test_context_length_is_a_400_with_openai_code(client: openai.AsyncOpenAI) -> None:
    """``context-length`` is a 400 ``context_length_exceeded`` on ``messages`` with OpenAI's wording."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="context-length:context=4096", messages=USER, stream=True)
    error = caught.value
    assert error.code == "context_length_exceeded"
    assert error.type == "invalid_request_error"
    assert error.param == "messages"
    assert "maximum context length is 4096 tokens" in error.message


async def test_context_length_with_prompt_limit_fails_only_long_prompts(server: MockServer) -> None:
    """With ``prompt_limit`` only prompts of more tokens than that are refused."""
    short = [{"role": "user", "content": "one two three"}]
    long = [{"role": "user", "content": "word " * 50}]
    assert (await post(server, "context-length:prompt_limit=10", messages=short))[0] == 200
    status, _, body = await post(server, "context-length:prompt_limit=10", messages=long)
    assert status == 400
    assert "resulted in 50 tokens" in body["error"]["message"]
    outcomes = [a["outcome"] for a in server.attempts()]
    assert outcomes == ["ok", "400_context_length"]


async def test_content_policy_is_a_400_from_the_safety_system(client: openai.AsyncOpenAI) -> None:
    """``content-policy`` is a 400 ``content_policy_violation`` saying the safety system rejected it."""
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="content-policy", messages=USER)
    assert caught.value.code == "content_policy_violation"
    assert "safety system" in caught.value.message


async def test_no_prefill_refuses_only_a_trailing_assistant_message(server: MockServer) -> None:
    """``no-prefill`` answers normally, but refuses a conversation ending in an assistant prefill."""
    assert (await post(server, "no-prefill"))[0] == 200
    prefill = [*USER, {"role": "assistant", "content": "Sure, here"}]
    status, _, body = await post(server, "no-prefill", stream=True, messages=prefill)
    assert status == 400
    assert body["error"]["code"] == "unsupported_prefill"
    assert "prefill" in body["error"]["message"]
    assert [(a["outcome"], a["last_role"]) for a in server.attempts()] == [
        ("ok", "user"),
        ("400_prefill", "assistant"),
    ]


async def test_a_prefill_of_the_answer_is_continued(client: openai.AsyncOpenAI) -> None:
    """A trailing assistant message that begins the answer gets the rest of it, streamed or not."""
    prefill: Any = [*USER, {"role": "assistant", "content": "token0 token1"}]
    reply = await client.chat.completions.create(model="ok:tokens=4", messages=prefill)
    assert reply.choices[0].message.content == " token2 token3"
    assert reply.usage is not None and reply.usage.completion_tokens == 2
    stream = await client.chat.completions.create(model="ok:tokens=4", messages=prefill, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == " token2 token3"


async def test_auth_error_and_not_found(client: openai.AsyncOpenAI) -> None:
    """``auth-error`` is a 401 ``invalid_api_key``; ``not-found`` a 404 ``model_not_found``."""
    with pytest.raises(openai.AuthenticationError) as auth:
        await client.chat.completions.create(model="auth-error", messages=USER)
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="not-found", messages=USER)
    assert missing.value.code == "model_not_found"


async def test_flap_is_down_for_down_ms_then_up(server: MockServer) -> None:
    """``flap:down_ms=1000`` answers 503 from its first request for a second, then 200."""
    assert (await post(server, "flap:down_ms=1000"))[0] == 503
    assert (await post(server, "flap:down_ms=1000", stream=True))[0] == 503
    first = server.attempts()[0]["monotonic"]  # the window runs from the first request's arrival
    await asyncio.sleep(first + 1.1 - time.monotonic())
    assert (await post(server, "flap:down_ms=1000"))[0] == 200
    assert [a["outcome"] for a in server.attempts()] == ["503", "503", "ok"]


async def test_flap_with_period_cycles_down_and_up(server: MockServer) -> None:
    """``flap:period_ms=1000,down_ms=500`` is down for the first half of every second."""
    model = "flap:period_ms=1000,down_ms=500"
    seen = [(await post(server, model))[0]]
    first = server.attempts()[0]["monotonic"]  # the periods run from the first request's arrival
    for target in (0.75, 1.25, 1.75):  # each a quarter period from a phase change
        await asyncio.sleep(max(0.0, first + target - time.monotonic()))
        seen.append((await post(server, model))[0])
    assert seen == [503, 200, 503, 200]


async def test_errors_wait_ttft_ms_before_answering(server: MockServer) -> None:
    """``ttft_ms`` delays an error reply as it delays an answer."""
    start = time.monotonic()
    assert (await post(server, "error-503:ttft_ms=200"))[0] == 503
    assert time.monotonic() - start >= 0.19
