"""A virtual key's token budget through ``keel serve``: answers and refusals say how many tokens remain.

A key with a 200-token lifetime budget (``budget_tokens``) is answered while its calls' token bound
fits, then refused with a 429 before any upstream attempt; every answer, refusal and cache hit
carries ``x-keel-budget-remaining-tokens``, the budget less the tokens the provider reported.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from keel.mock import MockServer

from .conftest import RunningKeel, issue_key, mock_config, start_keel, user

MASTER = "mk-token-budget-master-key"
LIMIT = 200


@pytest.fixture
def keyed(upstream: MockServer, uid) -> Iterator[tuple[RunningKeel, str, str]]:
    """A server, the mock model behind ``smart``, and the secret of a key with 200 tokens to use."""
    model = uid("ok:tokens=5")
    running = start_keel(mock_config(upstream, {"smart": [f"mock/{model}"]}, server={"master_key": MASTER}))
    metadata = {"budget_tokens": str(LIMIT), "budget_window": "lifetime"}
    _, secret = issue_key(running, "tokens", metadata=metadata)
    yield running, model, secret
    running.stop()


def remaining(headers: object) -> int:
    return int(headers["x-keel-budget-remaining-tokens"])  # type: ignore[index]


def ask_until_refused(sdk: openai.OpenAI) -> tuple[int, openai.RateLimitError]:
    """Chat calls until one is refused (at most 50): the tokens the answers used, and the refusal;
    each answer's header must say the budget less the tokens used so far."""
    used = 0
    for _ in range(50):
        try:
            raw = sdk.chat.completions.with_raw_response.create(model="smart", messages=user(), max_tokens=5)
        except openai.RateLimitError as refused:
            return used, refused
        usage = raw.parse().usage
        assert usage is not None
        used += usage.total_tokens
        assert remaining(raw.headers) == LIMIT - used
    raise AssertionError("the budget never refused")


def test_a_token_budget_refuses_and_says_what_remains(
    keyed: tuple[RunningKeel, str, str], upstream: MockServer
) -> None:
    """Each answer says the budget less every answer's reported tokens; once the bound no longer
    fits, chat and Anthropic calls get a 429 ``budget_exceeded`` naming tokens, with what remains and
    no upstream attempt."""
    running, model, secret = keyed
    with openai.OpenAI(base_url=running.v1, api_key=secret, timeout=20, max_retries=0) as sdk:
        used, refused = ask_until_refused(sdk)
    answered = len(upstream.attempts(model=model))
    assert answered >= 2 and used <= LIMIT
    assert refused.code == "budget_exceeded" and "200 tokens" in refused.message
    assert remaining(refused.response.headers) == LIMIT - used
    assert refused.response.headers["x-keel-attempts"] == "0"
    claude = anthropic.Anthropic(base_url=running.base_url, api_key=secret, timeout=20)
    with claude, pytest.raises(anthropic.RateLimitError) as refused_message:
        claude.messages.create(model="smart", max_tokens=5, messages=user())
    assert remaining(refused_message.value.response.headers) == LIMIT - used
    assert refused_message.value.body["error"]["type"] == "budget_exceeded"  # type: ignore[index]
    for headers in (refused.response.headers, refused_message.value.response.headers):
        assert headers["x-keel-error-code"] == "budget_exceeded"
    assert len(upstream.attempts(model=model)) == answered


def test_a_cache_hit_says_what_tokens_remain(
    keyed: tuple[RunningKeel, str, str], upstream: MockServer
) -> None:
    """A call answered from the cache uses no tokens and still says how many remain."""
    running, model, secret = keyed
    with openai.OpenAI(base_url=running.v1, api_key=secret, timeout=20) as sdk:
        ask = sdk.chat.completions.with_raw_response.create
        miss, hit = (ask(model="smart", messages=user(), max_tokens=5, temperature=0) for _ in range(2))
    assert (miss.headers["x-keel-cache"], hit.headers["x-keel-cache"]) == ("miss", "hit")
    usage = miss.parse().usage
    assert usage is not None
    assert remaining(hit.headers) == remaining(miss.headers) == LIMIT - usage.total_tokens
    assert len(upstream.attempts(model=model)) == 1
