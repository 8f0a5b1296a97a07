"""Structured output through ``keel serve`` with the official OpenAI SDK: an enforced
``response_format`` answers JSON that validates, or a 422 ``output_validation_failed`` after the
re-asks — never an invalid answer with a 200; enforcement is asked for, strict, or configured."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import httpx2 as httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from keel.mock import MockServer

from .conftest import KeelFactory, mock_config, start_keel, user


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


FLAT = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["name", "count"],
}
NESTED = {
    "type": "object",
    "properties": {
        "team": {"type": "string"},
        "members": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "role": {"enum": ["admin", "user"]}},
                "required": ["name", "role"],
            },
        },
    },
    "required": ["team", "members"],
}
# Fixed by repair or by one re-ask; then always wrong (the mock's default for these is every request).
FIXABLE = [
    "ok",
    "json-fenced",
    "json-prose",
    "json-repairable",
    "json-invalid",
    "json-truncated",
    "json-wrong-type:times=1",
    "json-missing-field:times=1",
]
ALWAYS_WRONG = ["json-wrong-type", "json-missing-field", "json-invalid:times=9", "json-truncated:times=9"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    behaviour=st.sampled_from(FIXABLE + ALWAYS_WRONG),
    schema=st.sampled_from([FLAT, NESTED, Ticket.model_json_schema()]),
    stream=st.booleans(),
)
def test_an_enforced_answer_is_valid_with_200_or_an_error_never_invalid_with_200(
    checked_keel: Any, upstream: MockServer, behaviour: str, schema: dict[str, Any], stream: bool
) -> None:
    model = f"{behaviour}{',' if ':' in behaviour else ':'}id={uuid.uuid4().hex[:10]}"
    body = {
        "model": f"mock/{model}",
        "messages": user(),
        "stream": stream,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    answer = post(checked_keel.base_url, body, **{"x-keel-validate": "true"})
    if answer.status_code == 200:
        text = _content(answer, stream)
        Draft202012Validator(schema).validate(json.loads(text))  # never a 200 with an invalid answer
    if behaviour in FIXABLE:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 422 and "output_validation_failed" in answer.text
        assert len(upstream.attempts(model=model)) == 2  # the answer and one re-ask (max_reasks: 1)


def _content(answer: httpx.Response, stream: bool) -> str:
    if not stream:
        return str(answer.json()["choices"][0]["message"]["content"])
    events = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


@pytest.fixture(scope="module")
def checked_keel(upstream: MockServer) -> Iterator[Any]:
    running = start_keel(mock_config(upstream, {}, structured_output={"max_reasks": 1}))
    yield running
    running.stop()


def test_a_strict_stream_passes_through_and_an_invalid_end_is_an_error_event(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    slow, wrong = uid("ok:tokens=4,token_ms=30"), uid("json-wrong-type")
    keel = keel_for({"slow": [f"mock/{slow}"], "wrong": [f"mock/{wrong}"]})
    strict = {"type": "json_schema", "json_schema": {**SCHEMA, "strict": True}}
    with openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(
            model="slow", messages=user(), response_format=strict, stream=True
        )  # type: ignore[call-overload]
        pieces, first_while_streaming = [], None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if first_while_streaming is None:
                    [record] = upstream.attempts(model=slow)
                    first_while_streaming = record["ended_at"] is None
                pieces.append(chunk.choices[0].delta.content)
        assert first_while_streaming, "the strict stream was held back until the upstream ended"
        Ticket.model_validate_json("".join(pieces))

        body = {"model": "wrong", "messages": user(), "stream": True, "response_format": strict}
    answer = post(keel.base_url, body)
    events = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")]
    assert answer.status_code == 200 and "[DONE]" not in events
    assert json.loads(events[-1])["error"]["code"] == "output_validation_failed"
    assert len(upstream.attempts(model=wrong)) == 1  # nothing is asked again once the client has the answer


def test_a_refusal_is_the_answer_not_a_reason_to_ask_again(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    refusing = uid("refusal")
    keel = keel_for({"smart": [f"mock/{refusing}"]})
    body = {
        "model": "smart",
        "messages": user(),
        "response_format": {"type": "json_schema", "json_schema": SCHEMA},
    }
    answer = post(keel.base_url, body, **{"x-keel-validate": "true"})
    assert answer.status_code == 200 and answer.headers["x-keel-validation"] == "refused"
    message = answer.json()["choices"][0]["message"]
    assert message["refusal"] == "I can't help with that." and message["content"] is None
    assert len(upstream.attempts(model=refusing)) == 1
