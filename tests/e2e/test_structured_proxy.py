"""Structured output through ``keel serve`` with the official OpenAI SDK: an enforced
``response_format`` answers JSON that validates, or a 422 ``output_validation_failed`` after the
re-asks — never an invalid answer with a 200; enforcement is asked for, strict, or configured."""

from __future__ import annotations

from typing import Any, Literal

import httpx2 as httpx
import openai
import pytest
from pydantic import BaseModel

from keel.mock import MockServer

from .conftest import KeelFactory, user


class Ticket(BaseModel):
    title: str
    priority: Literal["low", "high"]
    tags: list[str]


SCHEMA = {"name": "ticket", "schema": Ticket.model_json_schema()}


def post(base_url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def test_the_sdk_s_parse_helper_gets_a_validated_object(keel_for: KeelFactory, uid: Any) -> None:
    keel = keel_for({"smart": [f"mock/{uid('ok:tokens=2')}"]})
    with openai.OpenAI(base_url=keel.v1, api_key="any") as sdk:
        raw = sdk.chat.completions.with_raw_response.parse(
            model="smart", messages=user(), response_format=Ticket
        )
    completion = raw.parse()
    assert completion.choices[0].message.parsed == Ticket(
        title="token0 token1", priority="low", tags=["token0 token1"]
    )
    assert raw.headers["x-keel-validation"] == "valid" and raw.headers["x-keel-reasks"] == "0"


def test_an_answer_that_never_validates_is_a_422_after_exactly_the_reasks(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    model = uid("ok:tokens=1")
    keel = keel_for(
        {"smart": [{"provider": "mock", "model": model, "supports_json_schema": False}]},
        structured_output={"max_reasks": 2},
    )
    body = {
        "model": "smart",
        "messages": user(),
        "response_format": {"type": "json_schema", "json_schema": SCHEMA},
    }

    answer = post(keel.base_url, body, **{"x-keel-validate": "true"})

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (
        error["code"] == "output_validation_failed"
        and answer.headers["x-keel-error-code"] == "output_validation_failed"
    )
    assert "'title' is a required property" in error["message"]
    assert len(upstream.attempts(model=model)) == 3
    with (
        openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk,
        pytest.raises(openai.UnprocessableEntityError),
    ):
        sdk.chat.completions.create(
            model="smart",
            messages=user(),
            response_format=body["response_format"],
            extra_headers={"x-keel-validate": "true"},
        )  # type: ignore[call-overload]


def test_enforcement_is_off_unless_asked_strict_or_configured(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    model = uid("ok:tokens=1")
    route = {"provider": "mock", "model": model, "supports_json_schema": False}
    loose = {"type": "json_schema", "json_schema": SCHEMA}
    strict = {"type": "json_schema", "json_schema": {**SCHEMA, "strict": True}}
    keel = keel_for(
        {"smart": [route], "checked": [route]}, structured_output={"enforce": ["checked"], "max_reasks": 0}
    )

    plain = post(keel.base_url, {"model": "smart", "messages": user(), "response_format": loose})
    assert plain.status_code == 200 and "x-keel-validation" not in plain.headers
    assert (
        post(keel.base_url, {"model": "smart", "messages": user(), "response_format": strict}).status_code
        == 422
    )
    assert (
        post(keel.base_url, {"model": "checked", "messages": user(), "response_format": loose}).status_code
        == 422
    )
    off = post(
        keel.base_url,
        {"model": "checked", "messages": user(), "response_format": loose},
        **{"x-keel-validate": "false"},
    )
    assert off.status_code == 200


def test_json_object_is_enforced_as_an_object_and_bad_requests_are_400s(
    keel_for: KeelFactory, uid: Any
) -> None:
    keel = keel_for({"smart": [f"mock/{uid('ok:tokens=1')}"]})
    answer = post(
        keel.base_url,
        {"model": "smart", "messages": user(), "response_format": {"type": "json_object"}},
        **{"x-keel-validate": "true"},
    )
    assert answer.status_code == 200 and answer.headers["x-keel-validation"] == "valid"
    assert isinstance(answer.json()["choices"][0]["message"]["content"], str)

    nothing = post(keel.base_url, {"model": "smart", "messages": user()}, **{"x-keel-validate": "true"})
    assert nothing.status_code == 400 and nothing.json()["error"]["code"] == "validation_unavailable"
    broken = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "thing"}}}
    bad = post(
        keel.base_url,
        {"model": "smart", "messages": user(), "response_format": broken},
        **{"x-keel-validate": "true"},
    )
    assert bad.status_code == 400 and "not a valid JSON Schema" in bad.json()["error"]["message"]


def test_an_enforced_stream_is_released_once_valid(keel_for: KeelFactory, uid: Any) -> None:
    keel = keel_for({"smart": [f"mock/{uid('ok:tokens=2,token_ms=5')}"]})
    strict = {"type": "json_schema", "json_schema": {**SCHEMA, "strict": True}}
    with openai.OpenAI(base_url=keel.v1, api_key="any") as sdk:
        stream = sdk.chat.completions.create(
            model="smart", messages=user(), response_format=strict, stream=True
        )  # type: ignore[call-overload]
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert Ticket.model_validate_json(text) == Ticket(
        title="token0 token1", priority="low", tags=["token0 token1"]
    )
