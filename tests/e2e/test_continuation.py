"""Mid-stream continuation through ``keel serve``, with both SDKs on both endpoints: a stream cut after
40 of 60 tokens reaches the client whole when a prefill-capable route finishes it, and as a clean
error naming the cut when the next route cannot take a prefill."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel, user

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
