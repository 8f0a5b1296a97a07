"""Errors through the server: the SDK raises its own class for each status, and never retries Keel's.

The SDK keeps its default ``max_retries`` (2): ``x-should-retry: false`` must stop it, so the mock
sees exactly the attempts Keel made and no more.
"""

from __future__ import annotations

import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel, user


def test_400_bad_request(client: openai.OpenAI) -> None:
    """A body of the wrong shape raises BadRequestError naming the field."""
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": 42}])  # type: ignore[list-item]
    assert info.value.param == "messages[0].content"
    assert "messages[0].content" in info.value.message


def test_400_from_the_upstream_is_not_retried(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """A context-length refusal is the upstream's 400: BadRequestError, one attempt, its code kept."""
    model = uid("context-length")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=f"mock/{model}", messages=user())
    assert info.value.code == "context_length_exceeded"
    assert len(upstream.attempts(model=model)) == 1


def test_404_unknown_model(client: openai.OpenAI) -> None:
    """An unknown model raises NotFoundError with code model_not_found."""
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=user())
    assert info.value.code == "model_not_found"
    assert "fast" in info.value.message


def test_401_without_a_valid_key(keel_for: KeelFactory, uid) -> None:
    """With a master key configured, a wrong key raises AuthenticationError; the right one answers."""
    running = keel_for({"m": [f"mock/{uid('ok')}"]}, server={"master_key": "mk-test-secret"})
    with (
        openai.OpenAI(base_url=running.v1, api_key="wrong") as sdk,
        pytest.raises(openai.AuthenticationError),
    ):
        sdk.chat.completions.create(model="m", messages=user())
    with openai.OpenAI(base_url=running.v1, api_key="mk-test-secret") as sdk:
        assert sdk.chat.completions.create(model="m", messages=user()).choices[0].message.content


def test_429_after_keels_retries_is_not_retried_by_the_sdk(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """A persistent 429 raises RateLimitError after exactly Keel's attempts (3), not 3 times 3."""
    model = uid("rate-limit")
    running = keel_for({"m": [f"mock/{model}"]}, retry={"max_attempts": 3})
    with (
        openai.OpenAI(base_url=running.v1, api_key="any") as sdk,
        pytest.raises(openai.RateLimitError) as info,
    ):
        sdk.chat.completions.create(model="m", messages=user())
    assert info.value.response.headers["x-should-retry"] == "false"
    assert info.value.response.headers["x-keel-attempts"] == "3"
    assert len(upstream.attempts(model=model)) == 3


def test_429_passes_retry_after_on(client: openai.OpenAI, upstream: MockServer, uid) -> None:
    """A Retry-After too long for Keel to wait is passed to the caller, and the SDK does not retry."""
    model = uid("rate-limit:retry_after=30")
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=f"mock/{model}", messages=user())
    assert info.value.response.headers["retry-after"] == "30"
    assert len(upstream.attempts(model=model)) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_5xx_after_keels_retries(keel_for: KeelFactory, upstream: MockServer, uid, stream: bool) -> None:
    """Every route failing raises InternalServerError naming the routes; the SDK adds no attempts."""
    a, b = uid("error-503:x=a"), uid("error-503:x=b")
    running = keel_for({"m": [f"mock/{a}", f"mock/{b}"]}, retry={"max_attempts": 2})
    with (
        openai.OpenAI(base_url=running.v1, api_key="any") as sdk,
        pytest.raises(openai.InternalServerError) as info,
    ):
        sdk.chat.completions.create(model="m", messages=user(), stream=stream)
    assert info.value.status_code == 502
    assert f"mock/{a}" in info.value.message and f"mock/{b}" in info.value.message
    assert len(upstream.attempts(model=a)) == 2 and len(upstream.attempts(model=b)) == 2


def test_deadline_is_504(client: openai.OpenAI, keel: RunningKeel, uid) -> None:
    """x-keel-timeout bounds the call; running out is a 504 the SDK does not retry."""
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model=f"mock/{uid('hang')}", messages=user(), extra_headers={"x-keel-timeout": "0.3"}
        )
    assert info.value.status_code == 504
    assert info.value.code == "deadline_exceeded"


def test_upstream_credentials_never_reach_the_client(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """A provider refusing the route's key is a 502 in Keel's words: no key, no provider wording."""
    secret = "sk" + "-live-abcdefghijklmnopqrstuvwxyz123456"
    locked = {"profile": "generic", "base_url": upstream.base_url, "api_key": secret}
    running = keel_for(
        {"m": [f"locked/{uid('auth-error')}"]},
        providers={"locked": locked},
        pricing={"models": {"locked/*": {"input": 1, "output": 2}}},
    )
    with (
        openai.OpenAI(base_url=running.v1, api_key="any") as sdk,
        pytest.raises(openai.InternalServerError) as info,
    ):
        sdk.chat.completions.create(model="m", messages=user())
    assert info.value.status_code == 502
    assert "refused Keel's credentials" in info.value.message
    assert secret not in info.value.response.text and "Incorrect API key" not in info.value.response.text
