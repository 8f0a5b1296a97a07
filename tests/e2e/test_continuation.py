"""Mid-stream continuation through ``keel serve``, with both SDKs on both endpoints: a stream cut after
40 of 60 tokens reaches the client whole when a prefill-capable route finishes it, and as a clean
error naming the cut when the next route cannot take a prefill."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from keel.mock import MockServer
from keel.mock.answer import prompt_tokens

from .conftest import KeelFactory, RunningKeel, user
from .sdk_stream import access_line, ledger_rows, openai_stream

WHOLE = " ".join(f"token{i}" for i in range(60))
CONTINUE = {"router": {"continue_streams": True}}
endpoints = pytest.mark.parametrize("endpoint", ["anthropic", "openai"])


def stream(running: RunningKeel, endpoint: str) -> tuple[str, str]:
    """The streamed text and the model the client was last told answered, via the endpoint's own SDK
    (on ``/v1/messages``: the closing ``message_delta`` names it when another model finished)."""
    if endpoint == "anthropic":
        with (
            anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10) as claude,
            claude.messages.stream(model="smart", max_tokens=100, messages=user()) as events,
        ):
            finisher = [getattr(e.delta, "model", None) for e in events if e.type == "message_delta"]
            message = events.get_final_message()
        assert message.stop_reason == "end_turn" and len(message.content) == 1
        return message.content[0].text, finisher[0] or message.model  # type: ignore[union-attr]
    with openai.OpenAI(base_url=running.v1, api_key="any", timeout=10) as sdk:
        chunks = list(sdk.chat.completions.create(model="smart", messages=user(), stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[-1].model


@endpoints
@pytest.mark.parametrize(("first", "then"), [("claude", "mock"), ("mock", "claude")])
def test_a_cut_stream_reaches_the_client_whole(
    keel_for: KeelFactory, upstream: MockServer, uid, endpoint: str, first: str, then: str
) -> None:
    """The client gets exactly token0…token59 in one message, named for the model that finished it."""
    cut, finisher = uid("cut:after=40,tokens=60"), uid("ok:tokens=60")
    tier: Any = [{"provider": then, "model": finisher, "supports_prefill": True}]
    running = keel_for({"smart": [[f"{first}/{cut}"], tier]}, **CONTINUE)
    text, model = stream(running, endpoint)
    assert text == WHOLE
    assert model == finisher
    assert [r["last_role"] for r in upstream.attempts(model=finisher)] == ["assistant"]


@endpoints
def test_without_a_prefill_route_the_client_gets_the_cut(
    keel_for: KeelFactory, upstream: MockServer, uid, endpoint: str
) -> None:
    """A next route that cannot take a prefill is not tried: the error names the cut, not a refusal."""
    cut, refuser = uid("cut:after=40,tokens=60"), uid("no-prefill:tokens=60")
    running = keel_for({"smart": [[f"claude/{cut}"], [f"mock/{refuser}"]]}, **CONTINUE)
    error = anthropic.APIStatusError if endpoint == "anthropic" else openai.APIError
    with pytest.raises(error, match="interrupted after 41 chunks") as info:
        stream(running, endpoint)
    assert "prefill" not in str(info.value)
    assert upstream.attempts(model=refuser) == []


@pytest.mark.parametrize("first", ["mock", "claude"])
def test_a_continued_stream_reports_the_whole_answer(
    keel_for: KeelFactory,
    upstream: MockServer,
    uid,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    first: str,
) -> None:
    """Cut after 40 of 60 tokens and finished by another route, through the openai SDK with
    include_usage: one finish, one usage counting all 60 output tokens, then [DONE]. The headers
    (sent with the first content) name the route that began the answer after one attempt; the access
    line and the ledger name the finishing route and both attempts, and the line the header's route."""
    cut, finisher = uid("cut:after=40,tokens=60"), uid("ok:tokens=60")
    tier: Any = [{"provider": "mock", "model": finisher, "supports_prefill": True}]
    running = keel_for(
        {"smart": [[f"{first}/{cut}"], tier]},
        database=f"sqlite:///{tmp_path / 'keel.db'}",
        ledger={"durability": "strict"},
        **CONTINUE,
    )
    request_id = f"continued-{uid('x')[-8:]}"
    with caplog.at_level(logging.INFO, logger="keel.access"):
        got = openai_stream(running.v1, "smart", request_id)
        line = access_line(caplog, request_id)
    assert got.text == WHOLE and got.finishes == ["stop"] and got.chunks[-1].model == finisher
    [usage] = got.usages
    [seen] = upstream.attempts(model=finisher)
    assert usage.completion_tokens == 60 and usage.prompt_tokens == prompt_tokens(seen["body"])
    assert got.raw.endswith(b"data: [DONE]\n\n")
    [began] = upstream.attempts(model=cut)
    assert got.headers["x-keel-route"] == f"{first}/{cut}" and got.headers["x-keel-attempts"] == "1"
    assert got.headers["x-keel-upstream-request-id"] == began["request_id"]
    for part in (
        f"route='mock/{finisher}'",
        "attempts=2 ",
        f"continued_from='{first}/{cut}'",
        f"upstream_request_id='{seen['request_id']}'",
    ):
        assert part in line
    [row] = ledger_rows(tmp_path / "keel.db")
    assert row["status"] == "ok" and row["route"] == f"mock/{finisher}"
    assert row["upstream_request_id"] == seen["request_id"]
    assert [a["route"] for a in row["attempts"]] == [f"{first}/{cut}", f"mock/{finisher}"]
    assert seen["last_role"] == "assistant"


@pytest.mark.parametrize("first", ["mock", "claude"])
def test_a_continued_stream_on_the_messages_endpoint_counts_the_whole_answer(
    keel_for: KeelFactory, upstream: MockServer, uid, first: str
) -> None:
    """On /v1/messages, an answer cut after 40 tokens and finished by an OpenAI-format route closes
    with one message_delta whose usage counts all 60 output tokens."""
    cut, finisher = uid("cut:after=40,tokens=60"), uid("ok:tokens=60")
    tier: Any = [{"provider": "mock", "model": finisher, "supports_prefill": True}]
    running = keel_for({"smart": [[f"{first}/{cut}"], tier]}, **CONTINUE)
    with (
        anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10, max_retries=0) as claude,
        claude.messages.stream(model="smart", max_tokens=100, messages=user()) as events,
    ):
        deltas = [event for event in events if event.type == "message_delta"]
        message = events.get_final_message()
    assert message.content[0].text == WHOLE and message.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert len(deltas) == 1 and deltas[0].usage.output_tokens == 60
