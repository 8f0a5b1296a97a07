"""The ``supports_tools`` capability through the library: a forced tool call skips routes that cannot
call tools (or is refused with a clear 400 when none can), and optional tools are dropped for them."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from keel.errors import RequestError
from keel.mock import MockServer

from .conftest import GatewayFactory, complete, user

both = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FORCED = ["required", {"type": "function", "function": {"name": "get_weather"}}]


def no_tools(model: str) -> dict[str, Any]:
    """A deployment of ``model`` on the mock declared unable to call tools."""
    return {"provider": "mock", "model": model, "supports_tools": False}


@both
@pytest.mark.parametrize("choice", FORCED, ids=["required", "named"])
async def test_forced_tool_call_skips_a_route_without_tools(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, stream: bool, choice: Any
) -> None:
    """A forced tool choice passes over a route without ``supports_tools`` (it sees nothing) and the next
    route answers with the tool call."""
    plain, capable = uid("plain:tokens=3"), uid("capable:tokens=3")
    gateway = gateway_for({"smart": [[no_tools(plain)], [f"mock/{capable}"]]})
    response = await complete(gateway, stream, tools=[WEATHER], tool_choice=choice)
    assert response.route == f"mock/{capable}"
    assert mock_server.attempts(model=plain) == []
    [record] = mock_server.attempts(model=capable)
    assert record["body"]["tool_choice"] == choice
    calls = response.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"


@both
async def test_forced_tool_call_with_no_capable_route_is_a_clear_400(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, stream: bool
) -> None:
    """A cascade with no route that can call tools refuses a forced tool choice with a 400 naming the
    capability, before any upstream is asked."""
    plain = uid("ok:tokens=3")
    gateway = gateway_for({"smart": [no_tools(plain)]})
    with pytest.raises(RequestError) as caught:
        await complete(gateway, stream, tools=[WEATHER], tool_choice="required")
    assert caught.value.status == 400 and caught.value.code == "tools_unsupported"
    assert "supports_tools" in caught.value.message and "'smart'" in caught.value.message
    assert mock_server.attempts(model=plain) == []


@both
@pytest.mark.parametrize("choice", ["auto", None], ids=["auto", "unset"])
async def test_optional_tools_are_dropped_for_a_route_without_tools(
    gateway_for: GatewayFactory,
    mock_server: MockServer,
    uid,
    stream: bool,
    choice: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``tool_choice`` auto (or none given), a route without tools gets the request without them;
    the attempt says so and a log line names the route."""
    plain = uid("ok:tokens=3")
    gateway = gateway_for({"smart": [no_tools(plain)]})
    params: dict[str, Any] = {"tools": [WEATHER], "parallel_tool_calls": False}
    if choice is not None:
        params["tool_choice"] = choice
    with caplog.at_level(logging.INFO):
        response = await complete(gateway, stream, **params)
    assert response.text == "token0 token1 token2"
    [record] = mock_server.attempts(model=plain)
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(record["body"])
    assert [attempt.tools_dropped for attempt in response.attempts] == [True]
    assert "tools dropped" in caplog.text and f"mock/{plain}" in caplog.text


@both
async def test_tools_reach_a_capable_fallback_after_a_route_without_them(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, stream: bool
) -> None:
    """Tools dropped for a failing route without them still reach the capable route that answers."""
    down, capable = uid("error-503"), uid("ok:tokens=3")
    gateway = gateway_for({"smart": [[no_tools(down)], [f"mock/{capable}"]]}, retry={"max_attempts": 1})
    response = await complete(gateway, stream, tools=[WEATHER])
    assert response.route == f"mock/{capable}"
    assert "tools" not in mock_server.attempts(model=down)[0]["body"]
    assert mock_server.attempts(model=capable)[0]["body"]["tools"] == [WEATHER]
    assert [attempt.tools_dropped for attempt in response.attempts] == [True, None]


async def test_a_request_without_tools_is_untouched(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A route without tools takes a request that has none as before, with nothing marked dropped."""
    plain = uid("ok:tokens=3")
    gateway = gateway_for({"smart": [no_tools(plain)]})
    response = await gateway.chat("smart", user())
    assert response.attempts[0].tools_dropped is None
    assert mock_server.attempts(model=plain)[0]["body"]["messages"] == user()
