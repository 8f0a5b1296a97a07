"""Tool calls as structured output: a ``strict: true`` function's arguments, and a forced tool's
input on ``/v1/messages`` with ``x-keel-validate``, parse and validate or the call fails with Keel's
code — on the OpenAI SDK's and on the Anthropic SDK's side."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, user

PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city", "days"],
    "additionalProperties": False,
}


def weather_tool(strict: bool) -> dict[str, Any]:
    function = {"name": "forecast", "parameters": PARAMETERS, "strict": strict}
    return {"type": "function", "function": function}


def test_a_strict_function_s_arguments_are_repaired_or_asked_again(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    repairable, wrong_once = uid("json-repairable"), uid("json-wrong-type:times=1")
    keel = keel_for({"fix": [f"mock/{repairable}"], "again": [f"mock/{wrong_once}"]})
    with openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk:
        for model, reasks in (("fix", "0"), ("again", "1")):
            raw = sdk.chat.completions.with_raw_response.create(
                model=model,
                messages=user("weather?"),
                tools=[weather_tool(strict=True)],  # type: ignore[list-item]
            )
            [call] = raw.parse().choices[0].message.tool_calls or []
            arguments = json.loads(call.function.arguments)  # type: ignore[union-attr]
            assert isinstance(arguments["city"], str) and isinstance(arguments["days"], int)
            assert raw.headers["x-keel-reasks"] == reasks
    assert len(upstream.attempts(model=repairable)) == 1 and len(upstream.attempts(model=wrong_once)) == 2


def test_a_function_that_is_not_strict_is_passed_through_as_answered(keel_for: KeelFactory, uid: Any) -> None:
    keel = keel_for({"loose": [f"mock/{uid('json-wrong-type')}"]})
    with openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="loose",
            messages=user("weather?"),
            tools=[weather_tool(strict=False)],  # type: ignore[list-item]
        )
    [call] = raw.parse().choices[0].message.tool_calls or []
    assert json.loads(call.function.arguments)["city"] == 42  # type: ignore[union-attr]
    assert "x-keel-validation" not in raw.headers


def test_a_strict_function_always_answered_wrong_is_a_422(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    wrong = uid("json-missing-field")
    keel = keel_for({"wrong": [f"mock/{wrong}"]}, structured_output={"max_reasks": 1})
    with (
        openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk,
        pytest.raises(openai.UnprocessableEntityError) as info,
    ):
        sdk.chat.completions.create(model="wrong", messages=user(), tools=[weather_tool(strict=True)])  # type: ignore[list-item]
    assert info.value.code == "output_validation_failed"
    assert "/tool_calls/0/arguments: 'city' is a required property" in info.value.message
    assert len(upstream.attempts(model=wrong)) == 2


def test_a_forced_tool_on_messages_is_enforced_with_keel_s_code(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    once, always = uid("json-missing-field:times=1"), uid("json-missing-field")
    keel = keel_for(
        {"once": [f"claude/{once}"], "always": [f"claude/{always}"]}, structured_output={"max_reasks": 1}
    )
    tool = {"name": "forecast", "input_schema": PARAMETERS}
    asked = {"x-keel-validate": "true"}
    with anthropic.Anthropic(base_url=keel.base_url, api_key="any", max_retries=0) as sdk:
        message = sdk.messages.create(
            model="once",
            max_tokens=100,
            messages=user("weather?"),  # type: ignore[arg-type]
            tools=[tool],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": "forecast"},
            extra_headers=asked,
        )
        [block] = [b for b in message.content if b.type == "tool_use"]
        assert set(block.input) == {"city", "days"}  # type: ignore[arg-type]
        with pytest.raises(anthropic.UnprocessableEntityError) as info:
            sdk.messages.create(
                model="always",
                max_tokens=100,
                messages=user("weather?"),  # type: ignore[arg-type]
                tools=[tool],  # type: ignore[list-item]
                tool_choice={"type": "tool", "name": "forecast"},
                extra_headers=asked,
            )
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "output_validation_failed"
    assert info.value.response.headers["x-keel-error-code"] == "output_validation_failed"
    assert len(upstream.attempts(model=once)) == 2 and len(upstream.attempts(model=always)) == 2


def test_anthropic_s_native_structured_output_both_ways(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """A strict schema reaches a Claude model that takes ``output_config.format`` natively (no forced
    tool); one asked for natively on ``/v1/messages`` is enforced: fixed by a re-ask, or a 422 with
    Keel's code; an older model gets the forced tool."""
    native, wrong, older = uid("ok:tokens=2"), uid("json-wrong-type"), uid("ok:tokens=3")
    keel = keel_for(
        {
            "native": [{"provider": "claude", "model": native, "native_structured_output": True}],
            "wrong": [{"provider": "claude", "model": wrong, "native_structured_output": True}],
            "older": [f"claude/{older}"],
        },
        structured_output={"max_reasks": 1},
    )
    strict = {
        "type": "json_schema",
        "json_schema": {"name": "forecast", "schema": PARAMETERS, "strict": True},
    }
    with openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk:
        for model in ("native", "older"):
            answer = sdk.chat.completions.create(
                model=model,
                messages=user("weather?"),  # type: ignore[arg-type]
                response_format=strict,  # type: ignore[arg-type]
            )
            assert set(json.loads(answer.choices[0].message.content or "")) == {"city", "days"}
    [sent] = upstream.attempts(model=native)
    assert sent["body"]["output_config"] == {"format": {"type": "json_schema", "schema": PARAMETERS}}
    assert "tools" not in sent["body"] and "tool_choice" not in sent["body"]
    [sent] = upstream.attempts(model=older)
    assert "output_config" not in sent["body"] and sent["body"]["tool_choice"]["type"] == "tool"

    asked = {"output_config": {"format": {"type": "json_schema", "schema": PARAMETERS}}}
    with anthropic.Anthropic(base_url=keel.base_url, api_key="any", max_retries=0) as claude:
        message = claude.messages.create(
            model="native",
            max_tokens=100,
            messages=user("weather?"),  # type: ignore[arg-type]
            extra_body=asked,
        )
        assert set(json.loads(message.content[0].text)) == {"city", "days"}  # type: ignore[union-attr]
        with pytest.raises(anthropic.UnprocessableEntityError) as info:
            claude.messages.create(
                model="wrong",
                max_tokens=100,
                messages=user("weather?"),  # type: ignore[arg-type]
                extra_body=asked,
            )
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "output_validation_failed"
    assert info.value.response.headers["x-keel-error-code"] == "output_validation_failed"
    attempts = upstream.attempts(model=wrong)
    assert len(attempts) == 2 and all(a["body"]["output_config"] == asked["output_config"] for a in attempts)
