"""Nothing lost on the way through: tools, JSON output, unknown fields, and no secret in any error."""

from __future__ import annotations

import json

import pytest

from keel import AuthenticationError, Gateway
from keel.mock import MockServer

from .conftest import FAST, GatewayFactory, merge, user

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_tool_calls_arrive_whole(gateway_for: GatewayFactory, uid, stream: bool) -> None:
    """A tool call comes back with its name and complete JSON arguments, streamed or not."""
    gateway = gateway_for({"smart": [f"mock/{uid('ok')}"]})
    if stream:
        handle = gateway.stream("smart", user("Weather in Oslo?"), tools=[WEATHER])
        async for _ in handle:
            pass
        response = handle.response
        assert response is not None
    else:
        response = await gateway.chat("smart", user("Weather in Oslo?"), tools=[WEATHER])
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id
    assert "city" in json.loads(call.function.arguments or "")


async def test_tool_result_round_trip(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """An assistant tool call and the tool's result travel upstream exactly as the caller wrote them."""
    ok = uid("ok")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    messages = [
        *user("Weather in Oslo?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'},
    ]
    response = await gateway.chat("smart", messages, tools=[WEATHER], tool_choice="none")
    assert response.text
    sent = mock_server.attempts(model=ok)[0]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Oslo"}'
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 3}'}


async def test_json_schema_output(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """``response_format`` reaches the upstream unchanged and the JSON answer comes back intact."""
    ok = uid("ok:tokens=3")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "a",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 2}},
                "required": ["city", "days"],
            },
        },
    }
    response = await gateway.chat("smart", user(), response_format=schema)
    [attempt] = mock_server.attempts(model=ok)
    assert attempt["body"]["response_format"] == schema
    assert json.loads(response.text) == {"city": "token0 token1 token2", "days": 2}  # the mock's instance


async def test_unknown_fields_pass_both_ways(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Fields Keel does not know are forwarded to the upstream and kept from its response."""
    ok = uid("ok")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    response = await gateway.chat(
        "smart", [{"role": "user", "content": "hi", "x_note": "n"}], logprobs=False, metadata={"a": "b"}
    )
    body = mock_server.attempts(model=ok)[0]["body"]
    assert body["metadata"] == {"a": "b"} and body["logprobs"] is False
    assert body["messages"][0]["x_note"] == "n"
    assert body["model"] == ok
    assert response.model_extra is not None and "system_fingerprint" in response.model_extra
    assert "refusal" in (response.choices[0].message.model_extra or {})


async def test_image_parts_pass_through(gateway_for: GatewayFactory, mock_server: MockServer, uid) -> None:
    """A multi-part message with an image URL reaches the upstream unchanged."""
    ok = uid("ok")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
    ]
    await gateway.chat("smart", [{"role": "user", "content": content}])
    assert mock_server.attempts(model=ok)[0]["body"]["messages"][0]["content"] == content


async def test_no_secret_in_errors_or_attempts(uid, tmp_path) -> None:
    """A provider's refusal of the route's key never puts the key or the upstream URL in the error."""
    secret = "sk" + "-live-abcdefghijklmnopqrstuvwxyz123456"
    server = MockServer(api_key="the-right-key")
    async with server.serve() as base_url:
        config = merge(
            {
                "providers": {"p": {"profile": "generic", "base_url": base_url, "api_key": secret}},
                "database": f"sqlite:///{tmp_path}/keel.db",
                "pricing": {"models": {"p/*": "free"}},
                "models": {"smart": [f"p/{uid('ok')}"]},
            },
            {key: value for key, value in FAST.items() if key != "pricing"},
        )
        async with Gateway.from_config(config) as gateway:
            with pytest.raises(AuthenticationError) as info:
                await gateway.chat("smart", user())
    error = info.value
    text = " ".join([str(error), repr(error), *(a.model_dump_json() for a in error.attempts)])
    assert secret not in text and base_url not in text
    assert secret not in repr(gateway.config) and secret not in str(gateway.providers)
