"""The fault matrix on Claude routes, in Anthropic's wire format, through the library: what the caller
got, and what the upstream saw (attempt counts, gaps, fallbacks to an OpenAI-format route)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from keel import (
    ContentPolicyError,
    ContextLengthExceededError,
    RateLimitError,
    StreamInterruptedError,
)
from keel.errors import MalformedResponseError
from keel.mock import MockServer

from .conftest import complete, user

both = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])


def gaps(records: list[dict[str, Any]]) -> list[float]:
    return [b["monotonic"] - a["monotonic"] for a, b in itertools.pairwise(records)]


@both
async def test_429_retry_after_is_waited_for(claude_for, mock_server: MockServer, uid, stream: bool) -> None:
    """A 429 ``rate_limit_error`` with retry-after 2 s is retried on the same route after ~2 s."""
    limited = uid("rate-limit:retry_after=2,times=1")
    response = await complete(claude_for({"smart": [f"claude/{limited}"]}), stream)
    assert response.text
    records = mock_server.attempts(model=limited)
    assert [r["outcome"] for r in records] == ["429", "ok"]
    assert gaps(records)[0] >= 1.95


@both
async def test_429_without_retry_after_gives_up(
    claude_for, mock_server: MockServer, uid, stream: bool
) -> None:
    """Without retry-after a 429 is retried with backoff a few times, then raised as RateLimitError."""
    limited = uid("rate-limit")
    with pytest.raises(RateLimitError):
        await complete(claude_for({"smart": [f"claude/{limited}"]}, retry={"max_attempts": 2}), stream)
    assert len(mock_server.attempts(model=limited)) == 2


@both
async def test_529_is_retried_then_falls_back_to_an_openai_route(
    claude_for, mock_server: MockServer, uid, stream: bool
) -> None:
    """A Claude route that keeps answering 529 is retried, then an OpenAI-format route answers."""
    down, backup = uid("overloaded"), uid("ok")
    gateway = claude_for({"smart": [f"claude/{down}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    response = await complete(gateway, stream)
    assert response.text and response.route == f"mock/{backup}"
    assert [r["outcome"] for r in mock_server.attempts(model=down)] == ["529", "529"]
    assert [r["format"] for r in mock_server.attempts(model=backup)] == ["openai"]
    assert [a.outcome for a in response.attempts] == ["server_error", "server_error", "ok"]
    assert response.attempts[0].status == 529


@both
async def test_context_length_is_not_retried(claude_for, mock_server: MockServer, uid, stream: bool) -> None:
    """ "prompt is too long" is a context-length error: no retry, and no fallback to a route no larger."""
    full, backup = uid("context-length"), uid("ok")
    with pytest.raises(ContextLengthExceededError):
        await complete(claude_for({"smart": [f"claude/{full}", f"mock/{backup}"]}), stream)
    assert len(mock_server.attempts(model=full)) == 1
    assert mock_server.attempts(model=backup) == []


@both
async def test_content_policy_stops(claude_for, mock_server: MockServer, uid, stream: bool) -> None:
    """A content-policy refusal is raised with the provider's reason; the next route is not tried."""
    refused, backup = uid("content-policy"), uid("ok")
    with pytest.raises(ContentPolicyError, match="content filtering policy"):
        await complete(claude_for({"smart": [f"claude/{refused}", f"mock/{backup}"]}), stream)
    assert mock_server.attempts(model=backup) == []


@both
async def test_reset_is_retried_then_falls_back(
    claude_for, mock_server: MockServer, uid, stream: bool
) -> None:
    """A reset before headers is retried on the same route, then the next route answers."""
    reset, backup = uid("reset"), uid("ok")
    gateway = claude_for({"smart": [f"claude/{reset}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    response = await complete(gateway, stream)
    assert response.route == f"mock/{backup}"
    assert len(mock_server.attempts(model=reset)) == 2


@both
async def test_hang_times_out_once_then_falls_back(
    claude_for, mock_server: MockServer, uid, stream: bool
) -> None:
    """A silent Claude route times out once, is not retried, and the next route answers."""
    silent, backup = uid("hang"), uid("ok")
    gateway = claude_for(
        {"smart": [f"claude/{silent}", f"mock/{backup}"]}, timeouts={"attempt": 1.0, "first_token": 0.5}
    )
    response = await complete(gateway, stream)
    assert response.route == f"mock/{backup}"
    assert len(mock_server.attempts(model=silent)) == 1


async def test_cut_after_commit_is_an_explicit_error(claude_for, mock_server: MockServer, uid) -> None:
    """A Claude stream cut after content raises StreamInterruptedError with the partial text; no fallback."""
    cut, backup = uid("cut:after=3,tokens=10"), uid("ok")
    handle = claude_for({"smart": [f"claude/{cut}", f"mock/{backup}"]}).stream("smart", user())
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in handle:
            received.append(chunk.text)
    assert "".join(received) == info.value.partial.text == "token0 token1 token2"
    assert info.value.partial.choices[0].finish_reason is None
    assert mock_server.attempts(model=backup) == []


async def test_missing_message_stop_is_never_a_complete_answer(claude_for, uid) -> None:
    """Every token and message_delta but no message_stop: the caller gets StreamInterruptedError
    (malformed), and never the finish reason."""
    model = uid("no-done:tokens=3")
    handle = claude_for({"smart": [f"claude/{model}"]}).stream("smart", user())
    with pytest.raises(StreamInterruptedError) as info:
        async for _ in handle:
            pass
    assert isinstance(info.value.cause, MalformedResponseError)
    assert info.value.partial.text == "token0 token1 token2"
    assert info.value.partial.choices[0].finish_reason is None


async def test_malformed_event_before_commit_is_retried(claude_for, mock_server: MockServer, uid) -> None:
    """A malformed event before any content is an ordinary failed attempt: retried, invisibly."""
    model = uid("malformed-chunk:after=0,times=1")
    handle = claude_for({"smart": [f"claude/{model}"]}).stream("smart", user())
    text = "".join([chunk.text async for chunk in handle])
    assert text.startswith("token0")
    first, second = mock_server.attempts(model=model)
    assert first["outcome"] in ("malformed", "client_closed")  # the client may leave before the rest is sent
    assert second["outcome"] == "ok"


async def test_slow_first_token_falls_back_invisibly(claude_for, mock_server: MockServer, uid) -> None:
    """message_start alone does not commit: a slow first token falls back before the caller sees anything."""
    slow, backup = uid("slow-first-token:ttft_ms=3000"), uid("ok:tokens=2")
    handle = claude_for(
        {"smart": [f"claude/{slow}", f"mock/{backup}"]}, timeouts={"first_token": 0.4}
    ).stream("smart", user())
    started = time.monotonic()
    text = "".join([chunk.text async for chunk in handle])
    assert text == "token0 token1" and time.monotonic() - started < 2.5
    assert handle.response is not None and handle.response.route == f"mock/{backup}"
