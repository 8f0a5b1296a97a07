"""A per-request budget a call's worst case exceeds: a 400 ``request_over_budget`` that no retry fixes.

The budget is a $1 ``window: request`` limit at a tenth of a cent per input token and 10¢ per output
token, or a 1,000-token one: a short prompt with ``max_tokens=5`` fits (at most about 55¢, 55
tokens), ``max_tokens=5000`` ($500, 5,000 tokens) can never fit. Windowed budgets keep their 429
(test_budget_refusal.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from keel.mock import MockServer

from .conftest import RunningKeel, mock_config, start_keel, user


@pytest.fixture(params=[{"limit_usd": "1"}, {"limit_tokens": 1000}], ids=["usd", "tokens"])
def over(upstream: MockServer, uid, request: pytest.FixtureRequest) -> Iterator[tuple[RunningKeel, str]]:
    """A server whose every call has a $1 or 1,000-token per-request budget, and the mock model
    behind ``smart``."""
    model = uid("ok:tokens=3")
    config = mock_config(
        upstream,
        {"smart": [f"mock/{model}"]},
        budgets=[{"name": "per call", "window": "request", **request.param}],
        pricing={"models": {"mock/*": {"input": 1_000, "output": 100_000}}},
    )
    running = start_keel(config)
    yield running, model
    running.stop()


def test_openai_sdk_gets_a_400_that_says_by_how_much(
    over: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """The OpenAI SDK raises ``BadRequestError`` with code ``request_over_budget``, once (no retry),
    naming the limit, the call's bound, the excess and ``max_tokens``; the mock saw only the call
    that fit."""
    running, model = over
    with openai.OpenAI(base_url=running.v1, api_key="any", timeout=20) as sdk:
        sdk.chat.completions.create(model="smart", messages=user(), max_tokens=5)  # fits: answered
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as refused:
                sdk.chat.completions.create(model="smart", messages=user(), max_tokens=5000, stream=stream)
            error = refused.value
            assert error.code == "request_over_budget"
            assert error.response.headers["x-should-retry"] == "false"
            assert error.response.headers["x-keel-error-code"] == "request_over_budget"
            assert "retry-after" not in error.response.headers
            assert "'per call' ($1 per request)" in error.message or (
                "'per call' (1,000 tokens per request)" in error.message
            )
            assert "over by " in error.message and "max_tokens" in error.message
    assert len(upstream.attempts(model=model)) == 1


def test_anthropic_sdk_gets_the_same_400(over: tuple[RunningKeel, str], upstream: MockServer) -> None:
    """The Anthropic SDK raises ``BadRequestError`` whose ``error.type`` is ``request_over_budget``;
    the mock saw no attempt."""
    running, model = over
    claude = anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=20)
    with claude, pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="smart", max_tokens=5000, messages=user())
    error = refused.value
    assert error.body["error"]["type"] == "request_over_budget"  # type: ignore[index]
    assert error.response.headers["x-should-retry"] == "false"
    assert error.response.headers["x-keel-error-code"] == "request_over_budget"
    assert "over by " in error.message and "max_tokens" in error.message
    assert upstream.attempts(model=model) == []
