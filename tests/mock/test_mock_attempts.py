"""The attempt record is final by the time a client has seen the end of a reply, and counts what was sent."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest

from keel.mock import MockServer

_END_OF_CHUNKED_BODY = b"\r\n0\r\n\r\n"


@pytest.fixture(scope="module")
def threaded() -> Iterator[MockServer]:
    """A mock in a thread of its own, as the integration and e2e suites run it."""
    mock = MockServer()
    with mock.run_in_thread():
        yield mock


def read_until(server: MockServer, path: str, body: dict[str, object], end: bytes) -> bytes:
    """POST ``body`` over a raw socket and read only until ``end`` has arrived, not a byte further."""
    payload = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + payload)
        while end not in received:
            data = sock.recv(65536)
            assert data, f"the connection closed before {end!r}: {received[-300:]!r}"
            received += data
    return received


ENDS = [
    ("/v1/chat/completions", "ok:tokens=2", b"data: [DONE]\n\n", "ok"),
    ("/v1/chat/completions", "no-done:tokens=2", _END_OF_CHUNKED_BODY, "no_done"),
    ("/v1/chat/completions", "malformed-chunk:after=1,tokens=2", b"data: [DONE]\n\n", "malformed"),
    ("/v1/messages", "ok:tokens=2", b"event: message_stop", "ok"),
]


@pytest.mark.parametrize(
    ("path", "model", "end", "outcome"), ENDS, ids=["done", "no-done", "malformed", "anthropic"]
)
def test_a_stream_is_recorded_as_finished_before_its_end_is_sent(
    threaded: MockServer, path: str, model: str, end: bytes, outcome: str
) -> None:
    """A client that has read a stream's last frame finds the attempt finished, never ``pending``."""
    seen = []
    for index in range(40):  # the old race lost most rounds; 40 make a pass by luck impossible
        name = f"{model},id={path}-{index}"
        body = {
            "model": name,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "max_tokens": 9,
        }
        read_until(threaded, path, body, end)
        [record] = threaded.attempts(model=name)
        seen.append(record["outcome"])
        assert record["ended_at"] is not None
    assert set(seen) == {outcome}


@pytest.mark.parametrize(
    ("path", "model", "extra", "frames"),
    [
        ("/v1/chat/completions", "ok:tokens=3", {}, 1 + 3 + 1 + 1),  # role, tokens, finish, [DONE]
        (
            "/v1/chat/completions",
            "ok:tokens=3",
            {"stream_options": {"include_usage": True}},
            1 + 3 + 1 + 1 + 1,
        ),
        (
            "/v1/messages",
            "ok:tokens=3",
            {},
            1 + 2 + 3 + 3,
        ),  # message_start, block start and ping, deltas, 3 ends
    ],
    ids=["openai", "openai-usage", "anthropic"],
)
def test_the_record_counts_the_frames_written(
    threaded: MockServer, path: str, model: str, extra: dict[str, object], frames: int
) -> None:
    """``chunks_sent`` counts every frame of a streamed reply; a reply that is not streamed has none."""
    name = f"{model},id=count-{path}-{len(extra)}"
    body = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}
    read_until(threaded, path, {**body, "stream": True, **extra}, _END_OF_CHUNKED_BODY)
    read_until(threaded, path, body, b"}")
    streamed, whole = threaded.attempts(model=name)
    assert (streamed["chunks_sent"], whole["chunks_sent"]) == (frames, 0)
