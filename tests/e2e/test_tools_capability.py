"""The ``supports_tools`` capability through ``keel serve``, with the official SDKs: a forced tool call
is refused with a 400 in each API's shape (Keel's code, ``x-keel-error-code``) when no route can call
tools, skips a route that cannot; optional tools are dropped for such a route and the answer says so."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel, user

both = pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_OPENAI = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
WEATHER_ANTHROPIC = {"name": "get_weather", "input_schema": SCHEMA}


def no_tools(model: str) -> dict[str, Any]:
    return {"provider": "mock", "model": model, "supports_tools": False}


@pytest.fixture
def served(keel_for: KeelFactory, uid) -> Iterator[tuple[RunningKeel, str, str]]:
    """A server whose ``plain`` model has one route that cannot call tools, and whose ``mixed`` model
    falls from such a route to one that can; with the mock model names of both routes."""
    plain, capable = uid("plain:tokens=3"), uid("capable:tokens=3")
    models = {"plain": [no_tools(plain)], "mixed": [[no_tools(plain)], [f"mock/{capable}"]]}
    yield keel_for(models), plain, capable


@both
@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_openai_sdk_gets_a_400_for_a_forced_tool_call_no_route_can_make(
    served: tuple[RunningKeel, str, str], upstream: MockServer, stream: bool, choice: Any
) -> None:
    """The openai SDK raises BadRequestError whose code is tools_unsupported, with x-keel-error-code."""
    running, plain, _ = served
    sdk = openai.OpenAI(base_url=running.v1, api_key="any", max_retries=0)
    with sdk, pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="plain", messages=user(), tools=[WEATHER_OPENAI], tool_choice=choice, stream=stream
        )
    error = caught.value
    assert error.code == "tools_unsupported" and "supports_tools" in error.message
    assert error.response.headers["x-keel-error-code"] == "tools_unsupported"
    assert error.response.headers["x-should-retry"] == "false"
    assert upstream.attempts(model=plain) == []


@both
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}])
def test_anthropic_sdk_gets_a_400_for_a_forced_tool_call_no_route_can_make(
    served: tuple[RunningKeel, str, str], upstream: MockServer, stream: bool, choice: dict[str, Any]
) -> None:
    """The anthropic SDK raises BadRequestError whose error type is tools_unsupported, with
    x-keel-error-code."""
    running, plain, _ = served
    params: dict[str, Any] = {"model": "plain", "max_tokens": 50, "messages": user()}
    params.update(tools=[WEATHER_ANTHROPIC], tool_choice=choice)
    sdk = anthropic.Anthropic(base_url=running.base_url, api_key="any", max_retries=0)
    with sdk, pytest.raises(anthropic.BadRequestError) as caught:
        if stream:
            with sdk.messages.stream(**params) as events:
                events.get_final_message()
        else:
            sdk.messages.create(**params)
    error = caught.value
    assert isinstance(error.body, dict) and error.body["type"] == "error"
    detail = error.body["error"]
    assert detail["type"] == "tools_unsupported" and "supports_tools" in detail["message"]
    assert error.response.headers["x-keel-error-code"] == "tools_unsupported"
    assert upstream.attempts(model=plain) == []


@both
def test_a_forced_tool_call_skips_the_route_that_cannot_make_it(
    served: tuple[RunningKeel, str, str], upstream: MockServer, stream: bool
) -> None:
    """Both SDKs' forced tool calls pass over the route without tools and are answered by the next,
    which makes the call; the skipped route sees nothing."""
    running, plain, capable = served
    with openai.OpenAI(base_url=running.v1, api_key="any", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="mixed", messages=user(), tools=[WEATHER_OPENAI], tool_choice="required"
        )
    assert raw.headers["x-keel-route"] == f"mock/{capable}"
    assert raw.parse().choices[0].message.tool_calls
    with anthropic.Anthropic(base_url=running.base_url, api_key="any", max_retries=0) as claude:
        params: dict[str, Any] = {
            "model": "mixed",
            "max_tokens": 50,
            "messages": user(),
            "tools": [WEATHER_ANTHROPIC],
            "tool_choice": {"type": "any"},
        }
        if stream:
            with claude.messages.stream(**params) as events:
                message = events.get_final_message()
        else:
            message = claude.messages.create(**params)
    assert message.stop_reason == "tool_use" and message.content[0].type == "tool_use"
    assert upstream.attempts(model=plain) == []
    assert len(upstream.attempts(model=capable)) == 2


@both
def test_optional_tools_are_dropped_and_the_answer_says_so(
    served: tuple[RunningKeel, str, str], upstream: MockServer, stream: bool
) -> None:
    """tool_choice auto (or tools alone) on a route without tools: the upstream gets no tools, both
    SDKs get a text answer, and x-keel-tools-dropped says why."""
    running, plain, _ = served
    body = {"model": "plain", "messages": user(), "tools": [WEATHER_OPENAI], "stream": stream}
    response = httpx.post(f"{running.v1}/chat/completions", json={**body, "tool_choice": "auto"}, timeout=10)
    assert response.status_code == 200 and response.headers["x-keel-tools-dropped"] == "true"
    anthropic_body = {
        "model": "plain",
        "max_tokens": 50,
        "messages": user(),
        "tools": [WEATHER_ANTHROPIC],
        "stream": stream,
    }
    answer = httpx.post(f"{running.base_url}/v1/messages", json=anthropic_body, timeout=10)
    assert answer.status_code == 200 and answer.headers["x-keel-tools-dropped"] == "true"
    if not stream:
        assert answer.json()["stop_reason"] == "end_turn"
        assert answer.json()["content"] == [{"type": "text", "text": "token0 token1 token2"}]
    records = upstream.attempts(model=plain)
    assert len(records) == 2 and all("tools" not in record["body"] for record in records)


def test_tools_reaching_a_capable_route_are_not_reported_dropped(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """A failing route without tools, then a capable one that answers: the answer has no
    x-keel-tools-dropped, since the tools reached the route that answered."""
    down, capable = uid("error-503"), uid("capable:tokens=3")
    running = keel_for({"m": [[no_tools(down)], [f"mock/{capable}"]]}, retry={"max_attempts": 1})
    body = {"model": "m", "messages": user(), "tools": [WEATHER_OPENAI]}
    response = httpx.post(f"{running.v1}/chat/completions", json=body, timeout=10)
    assert response.status_code == 200 and response.headers["x-keel-route"] == f"mock/{capable}"
    assert "x-keel-tools-dropped" not in response.headers
    assert "tools" not in upstream.attempts(model=down)[0]["body"]


@both
def test_an_answer_without_the_callers_tools_is_shared_but_not_cached(
    keel_for: KeelFactory, upstream: MockServer, uid, stream: bool
) -> None:
    """Identical cache-eligible calls whose tools were dropped: callers that shared the one upstream
    call are all told, and the answer is not kept for a later call (which may reach a capable route)."""
    plain = uid("plain:tokens=3,ttft_ms=300")
    running = keel_for({"plain": [no_tools(plain)]})
    body = {
        "model": "plain",
        "messages": user(),
        "tools": [WEATHER_OPENAI],
        "temperature": 0,
        "stream": stream,
    }

    async def together() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as client:
            return await asyncio.gather(
                *(client.post(f"{running.v1}/chat/completions", json=body) for _ in range(5))
            )

    responses = asyncio.run(together())
    assert len(upstream.attempts(model=plain)) == 1
    assert sum(r.headers.get("x-keel-coalesced") == "true" for r in responses) == 4
    assert all(r.headers["x-keel-tools-dropped"] == "true" for r in responses)
    later = httpx.post(f"{running.v1}/chat/completions", json=body, timeout=10)
    assert later.headers["x-keel-cache"] == "miss" and later.headers["x-keel-tools-dropped"] == "true"
    assert len(upstream.attempts(model=plain)) == 2
