"""Bad input on ``/v1/messages`` gets a clear 4xx in Anthropic's shape — never a 5xx or a traceback."""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import RunningKeel

MESSAGES = "/v1/messages"


def post(keel: RunningKeel, content: bytes) -> httpx.Response:
    return httpx.post(f"{keel.base_url}{MESSAGES}", content=content, timeout=10)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert "Traceback" not in response.text
    return body["error"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}]}', "max_tokens"),
        (b'{"model": "fast", "max_tokens": 5, "messages": []}', "messages"),
        (b'{"model": "fast", "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]}', "role"),
        (
            b'{"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "keel": 1}',
            "keel",
        ),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(keel: RunningKeel, content: bytes, words: str) -> None:
    """Malformed JSON or a wrong shape is an invalid_request_error whose message names the problem."""
    response = post(keel, content)
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and words in error["message"]


def test_unknown_model_and_wrong_method(keel: RunningKeel) -> None:
    """An unknown model is a not_found_error; GET is a 405 in Anthropic's shape."""
    body = b'{"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}'
    missing = post(keel, body)
    assert missing.status_code == 404 and error_of(missing)["type"] == "not_found_error"
    wrong = httpx.get(f"{keel.base_url}{MESSAGES}", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert error_of(wrong)["type"] == "invalid_request_error"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
KINDS = st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document", "x"])
BLOCK = st.fixed_dictionaries(
    {"type": KINDS | JSON},
    optional={
        "text": JSON,
        "source": JSON,
        "id": JSON,
        "name": JSON,
        "input": JSON,
        "tool_use_id": JSON,
        "content": JSON | st.lists(st.fixed_dictionaries({"type": KINDS}, optional={"text": JSON})),
        "cache_control": JSON,
    },
)
TURN = st.fixed_dictionaries(
    {}, optional={"role": st.sampled_from(["user", "assistant"]) | JSON, "content": st.lists(BLOCK) | JSON}
)
FIELDS = st.fixed_dictionaries(
    {"model": st.sampled_from(["fast", "nope"]) | JSON, "max_tokens": st.just(5) | JSON},
    optional={
        "messages": st.lists(TURN, max_size=3) | JSON,
        "system": st.lists(BLOCK, max_size=2) | JSON,
        "tools": st.lists(JSON | st.fixed_dictionaries({"name": JSON, "input_schema": JSON})) | JSON,
        "tool_choice": JSON,
        "metadata": JSON,
        "stop_sequences": JSON,
        "temperature": JSON,
        "stream": JSON,
        "keel": JSON,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSON)
def test_no_input_makes_a_5xx(keel: RunningKeel, body: object) -> None:
    """Property: whatever JSON a client posts to /v1/messages, the answer is below 500, no traceback."""
    response = post(keel, json.dumps(body).encode())
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


def test_other_messages_paths_are_a_clear_404(keel: RunningKeel) -> None:
    """Messages API paths Keel does not serve (batches) are a not_found_error, not OpenAI's shape."""
    response = httpx.post(f"{keel.base_url}{MESSAGES}/batches", json={}, timeout=5)
    assert response.status_code == 404 and error_of(response)["type"] == "not_found_error"


COUNT_FIELDS = st.fixed_dictionaries(
    {"model": st.sampled_from(["fast", "nope", "claude/ok"]) | JSON},
    optional={
        "messages": st.lists(TURN, max_size=3) | JSON,
        "system": st.lists(BLOCK, max_size=2) | JSON,
        "tools": st.lists(JSON) | JSON,
        "keel": JSON,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=COUNT_FIELDS | JSON)
def test_no_input_to_token_counting_makes_a_5xx(keel: RunningKeel, body: object) -> None:
    """Property: whatever JSON a client posts to /v1/messages/count_tokens (Claude route, OpenAI route
    or unknown model), the answer is below 500 and has no traceback."""
    response = httpx.post(
        f"{keel.base_url}{MESSAGES}/count_tokens", content=json.dumps(body).encode(), timeout=10
    )
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
