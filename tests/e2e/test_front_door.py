"""Bad input at the front door gets a clear 4xx in OpenAI's shape — never a 5xx or a traceback."""

from __future__ import annotations

import json
import socket

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import KeelFactory, RunningKeel

CHAT = "/v1/chat/completions"


def post(keel: RunningKeel, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{keel.base_url}{path}", content=content, headers=headers, timeout=10)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code", "param"}
    assert "Traceback" not in response.text
    return body["error"]


@pytest.mark.parametrize(
    ("content", "param", "words"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "empty"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "model", "model"),
        (b'{"model": 7, "messages": []}', "model", "model"),
        (b'{"model": "fast"}', "messages", "messages"),
        (b'{"model": "fast", "messages": []}', "messages", "at least 1"),
        (b'{"model": "fast", "messages": [{"content": "hi"}]}', "messages[0].role", "required"),
        (
            b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
            "stream",
            "true or false",
        ),
        (
            b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}',
            "temperature",
            "number",
        ),
        (
            b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "keel": {"timout": 1}}',
            "keel.timout",
            "unknown",
        ),
    ],
)
def test_malformed_bodies_are_400_naming_the_problem(
    keel: RunningKeel, content: bytes, param, words: str
) -> None:
    """Malformed JSON or a wrong shape is a 400 whose message (and param) says what is wrong."""
    response = post(keel, CHAT, content, **{"content-type": "application/json"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["param"] == param and words in error["message"]
    assert error["type"] == "invalid_request_error"


def test_bad_timeout_header_is_400(keel: RunningKeel) -> None:
    """x-keel-timeout that is not a positive number is refused, naming it."""
    body = b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}]}'
    response = post(keel, CHAT, body, **{"x-keel-timeout": "-1"})
    assert response.status_code == 400 and error_of(response)["param"] == "keel.timeout"


def test_oversize_body_is_refused_before_it_is_read(keel_for: KeelFactory) -> None:
    """A Content-Length over the limit gets 413 at once, before the client sent the body."""
    running = keel_for({}, server={"max_body_bytes": 1000})
    port = int(running.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 50000000\r\n\r\n{"
        )
        head = sock.recv(65536).decode()
    assert head.startswith("HTTP/1.1 413")
    body = json.loads(head.split("\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_too_large"


def test_oversize_chunked_body_is_refused(keel_for: KeelFactory) -> None:
    """A body without Content-Length is counted as it arrives and refused past the limit."""
    running = keel_for({}, server={"max_body_bytes": 1000})

    def chunks():
        for _ in range(100):
            yield b"x" * 100

    response = httpx.post(f"{running.v1}/chat/completions", content=chunks(), timeout=10)
    assert response.status_code == 413 and error_of(response)["code"] == "request_too_large"


def test_unknown_path_and_wrong_method(keel: RunningKeel) -> None:
    """An unknown endpoint is a JSON 404; a wrong method a JSON 405 with Allow."""
    missing = httpx.get(f"{keel.v1}/nope", timeout=5)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong = httpx.get(f"{keel.v1}/chat/completions", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    error_of(wrong)


def test_embeddings_bad_input(keel: RunningKeel) -> None:
    """Embeddings without input are a 400 naming 'input'; an unknown model a 404."""
    no_input = post(keel, "/v1/embeddings", b'{"model": "fast"}')
    assert no_input.status_code == 400 and error_of(no_input)["param"] == "input"
    unknown = post(keel, "/v1/embeddings", b'{"model": "nope", "input": "x"}')
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "model_not_found"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["fast", "nope", ""]) | JSON,
        "messages": st.lists(
            st.fixed_dictionaries({}, optional={"role": JSON | st.just("user"), "content": JSON}), max_size=3
        )
        | JSON,
        "stream": JSON,
        "stream_options": JSON,
        "tools": JSON,
        "keel": JSON,
        "input": JSON,
        "max_tokens": JSON,
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSON, path=st.sampled_from([CHAT, "/v1/embeddings"]))
def test_no_input_makes_a_5xx(keel: RunningKeel, body: object, path: str) -> None:
    """Property: whatever JSON a client posts, the answer is below 500 and carries no traceback."""
    response = post(keel, path, json.dumps(body).encode())
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
