"""The local model: a real answer offline, loaded only when a cascade reaches it."""

from __future__ import annotations

import pytest

from keel.errors import ToolsUnsupportedError
from keel.providers.local import LocalProvider

from .conftest import GatewayFactory, user

pytestmark = pytest.mark.local_model


async def test_local_model_is_loaded_only_when_reached(gateway_for: GatewayFactory, uid) -> None:
    """A cascade whose first route answers never loads the local model; one that falls to it does."""
    healthy, down = uid("ok"), uid("error-503")
    gateway = gateway_for(
        {"fine": [f"mock/{healthy}", "local"], "failing": [f"mock/{down}", "local"]},
        providers={"local": {"kind": "local"}},
        retry={"max_attempts": 1},
        timeouts={"first_token": 20, "idle": 10, "attempt": 30, "total": 60},
    )
    local = gateway.providers["local"]
    assert isinstance(local, LocalProvider)
    response = await gateway.chat("fine", user())
    assert response.route == f"mock/{healthy}"
    assert not local.loaded

    response = await gateway.chat("failing", user("Name a colour."), max_tokens=24)
    assert local.loaded
    assert response.route == "local/smollm2-135m-instruct"
    assert response.model == "local/smollm2-135m-instruct"
    assert response.text.strip()
    assert response.usage is not None and response.usage.output_tokens > 0
    assert [a.outcome for a in response.attempts] == ["server_error", "ok"]


async def test_local_model_streams(gateway_for: GatewayFactory) -> None:
    """The local model streams chunks that name it as the model, ending with usage."""
    gateway = gateway_for(
        {"tiny": ["local"]},
        providers={"local": {"kind": "local"}},
        timeouts={"first_token": 20, "idle": 10, "attempt": 30, "total": 60},
    )
    handle = gateway.stream("tiny", user("Say hello."), max_tokens=16)
    chunks = [chunk async for chunk in handle]
    assert chunks and all(chunk.model == "local/smollm2-135m-instruct" for chunk in chunks)
    response = handle.response
    assert response is not None and response.text.strip()
    assert response.usage is not None and response.usage.output_tokens > 0


WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


async def test_local_model_refuses_a_forced_tool_call(gateway_for: GatewayFactory) -> None:
    """The local model cannot call tools: a forced tool choice on a cascade of it alone is a clear 400
    naming the capability, not a text answer that looks like an ordinary end of turn."""
    gateway = gateway_for({"tiny": ["local"]}, providers={"local": {"kind": "local"}})
    with pytest.raises(ToolsUnsupportedError) as caught:
        await gateway.chat("tiny", user("Weather in Oslo?"), tools=[WEATHER], tool_choice="required")
    assert caught.value.status == 400 and "supports_tools" in caught.value.message
    assert caught.value.attempts == []


async def test_local_model_answers_without_optional_tools(gateway_for: GatewayFactory) -> None:
    """With tool_choice auto the local model answers in text, and its attempt says the tools were dropped."""
    gateway = gateway_for(
        {"tiny": ["local"]},
        providers={"local": {"kind": "local"}},
        timeouts={"first_token": 20, "idle": 10, "attempt": 30, "total": 60},
    )
    response = await gateway.chat(
        "tiny", user("Say hello."), tools=[WEATHER], tool_choice="auto", max_tokens=16
    )
    assert response.text.strip()
    assert [attempt.tools_dropped for attempt in response.attempts] == [True]
