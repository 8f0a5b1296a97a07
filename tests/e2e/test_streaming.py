"""Streams on the wire: OpenAI's SSE framing, the error event after the commit point, and disconnects."""

from __future__ import annotations

import json
import time

import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .conftest import RunningKeel, user


def raw_stream(keel: RunningKeel, model: str, **body: object) -> tuple[httpx.Response, bytes]:
    payload = {"model": model, "messages": user(), "stream": True, **body}
    with httpx.stream("POST", f"{keel.v1}/chat/completions", json=payload, timeout=10) as response:
        return response, response.read()


def test_sse_framing_is_openais(keel: RunningKeel, uid) -> None:
    """Every event is 'data: {json}' and a blank line; the last is 'data: [DONE]'."""
    response, body = raw_stream(keel, f"mock/{uid('ok:tokens=3')}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = body.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    for event in events[:-2]:
        assert event.startswith(b"data: {") and b"\n" not in event
        assert json.loads(event[6:])["object"] == "chat.completion.chunk"


def test_error_after_commit_is_an_error_event_without_done(keel: RunningKeel, uid) -> None:
    """A stream cut after content ends with an OpenAI-shaped error event and no [DONE]."""
    response, body = raw_stream(keel, f"mock/{uid('cut:after=3,tokens=10')}")
    assert response.status_code == 200
    events = [event for event in body.split(b"\n\n") if event]
    assert b"[DONE]" not in body
    last = json.loads(events[-1].removeprefix(b"data: "))
    assert set(last["error"]) == {"message", "type", "code", "param"}
    assert last["error"]["code"] == "stream_interrupted"
    texts = [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert "".join(t or "" for t in texts) == "token0 token1 token2"


def test_sdk_raises_on_a_cut_stream(client: openai.OpenAI, uid) -> None:
    """The SDK raises APIError mid-iteration instead of ending a cut answer quietly."""
    received = []
    with pytest.raises(openai.APIError, match="interrupted"):
        for chunk in client.chat.completions.create(
            model=f"mock/{uid('cut:after=2,tokens=10')}", messages=user(), stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "token0 token1"


def test_failure_before_commit_is_a_json_error(keel: RunningKeel, uid) -> None:
    """A stream that fails before its first content gets a normal JSON error with its status."""
    response, body = raw_stream(keel, f"mock/{uid('context-length')}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "context_length_exceeded"


def closed_within(upstream: MockServer, model: str, since: float, limit: float = 1.0) -> float:
    """Seconds from ``since`` until the mock saw its client (Keel) close the connection."""
    deadline = time.monotonic() + limit + 1
    while time.monotonic() < deadline:
        records = upstream.attempts(model=model)
        if records and records[-1]["closed_at"] is not None:
            return float(records[-1]["closed_at"] - since)
        time.sleep(0.01)
    raise AssertionError(f"the upstream never saw the connection closed: {upstream.attempts(model=model)}")


def test_client_disconnect_mid_stream_closes_the_upstream(
    client: openai.OpenAI, upstream: MockServer, uid
) -> None:
    """A client that leaves mid-stream makes the upstream see its connection closed within 1 s."""
    model = uid("ok:tokens=400,token_ms=20")
    stream = client.chat.completions.create(model=f"mock/{model}", messages=user(), stream=True)
    for index, _ in enumerate(stream):
        if index == 3:
            break
    stream.close()
    left = time.monotonic()
    assert closed_within(upstream, model, left) < 1.0


def test_client_disconnect_while_waiting_closes_the_upstream(
    keel: RunningKeel, upstream: MockServer, uid
) -> None:
    """A client that gives up on a slow non-streamed answer cancels the upstream request too."""
    model = uid("hang")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{keel.v1}/chat/completions", json={"model": f"mock/{model}", "messages": user()}, timeout=0.3
        )
    left = time.monotonic()
    assert closed_within(upstream, model, left) < 1.0
