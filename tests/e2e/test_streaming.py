"""Streams on the wire: OpenAI's SSE framing, the error event after the commit point, and disconnects."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import anthropic
import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel, user
from .sdk_stream import access_line, ledger_rows, openai_stream


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


@pytest.mark.parametrize("usage", [True, False], ids=["usage-then-end", "end-before-usage"])
def test_a_finished_stream_without_done_is_complete(
    keel_for: KeelFactory,
    upstream: MockServer,
    uid,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    usage: bool,
) -> None:
    """An upstream that closes after its finish chunk (and usage) without [DONE]: the SDK gets the
    answer with one finish chunk, the upstream's usage when it sent one, then Keel's [DONE]; no route
    is asked to continue it; the headers, the access line and the ledger name one route, one attempt."""
    nodone, finisher = uid("no-done:tokens=6" + ("" if usage else ",usage=0")), uid("ok:tokens=6")
    running = keel_for(
        {"m": [[f"mock/{nodone}"], [{"provider": "mock", "model": finisher, "supports_prefill": True}]]},
        router={"continue_streams": True},
        database=f"sqlite:///{tmp_path / 'keel.db'}",
        ledger={"durability": "strict"},
    )
    request_id = f"nodone-{usage}-{uid('x')[-8:]}"
    with caplog.at_level(logging.INFO, logger="keel.access"):
        got = openai_stream(running.v1, "m", request_id)
        line = access_line(caplog, request_id)
    assert got.text == "token0 token1 token2 token3 token4 token5"
    assert got.finishes == ["stop"]
    assert [u.completion_tokens for u in got.usages] == ([6] if usage else [])
    assert got.raw.endswith(b"data: [DONE]\n\n") and b'"error"' not in got.raw
    assert got.headers["x-keel-route"] == f"mock/{nodone}" and got.headers["x-keel-attempts"] == "1"
    assert f"route='mock/{nodone}'" in line and "attempts=1 " in line and "outcome='completed'" in line
    [row] = ledger_rows(tmp_path / "keel.db")
    assert row["status"] == "ok" and row["route"] == f"mock/{nodone}"
    assert [(a["route"], a["outcome"]) for a in row["attempts"]] == [(f"mock/{nodone}", "ok")]
    assert [len(upstream.attempts(model=m)) for m in (nodone, finisher)] == [1, 0]


def test_a_finished_stream_without_done_is_complete_on_the_messages_endpoint(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """On /v1/messages, an OpenAI-format route that closes after its finish and usage without [DONE]
    gives the Anthropic SDK one whole message: one message_delta with the upstream's usage, then
    message_stop; no route is asked to continue it."""
    nodone, finisher = uid("no-done:tokens=6"), uid("ok:tokens=6")
    running = keel_for(
        {"m": [[f"mock/{nodone}"], [{"provider": "mock", "model": finisher, "supports_prefill": True}]]},
        router={"continue_streams": True},
    )
    with (
        anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10, max_retries=0) as claude,
        claude.messages.stream(model="m", max_tokens=100, messages=user()) as events,
    ):
        kinds = [event.type for event in events]
        message = events.get_final_message()
    assert message.content[0].text == "token0 token1 token2 token3 token4 token5"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 6
    assert kinds.count("message_delta") == 1 and kinds[-1] == "message_stop"
    assert [len(upstream.attempts(model=m)) for m in (nodone, finisher)] == [1, 0]
