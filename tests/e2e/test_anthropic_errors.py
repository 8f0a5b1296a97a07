"""Errors on ``/v1/messages``: the ``anthropic`` SDK raises its own class for each, and never retries Keel's.

The SDK keeps its default ``max_retries`` (2): ``x-should-retry: false`` must stop it, so the mock
sees exactly the attempts Keel made and no more.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, RunningKeel

both = pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])


def turns() -> Any:
    return [{"role": "user", "content": "Say hello"}]


def create(sdk: anthropic.Anthropic, model: str, stream: bool = False, **params: Any) -> Any:
    """One call; a stream is read to its end."""
    if stream:
        return list(sdk.messages.create(model=model, max_tokens=50, messages=turns(), stream=True, **params))
    return sdk.messages.create(model=model, max_tokens=50, messages=turns(), **params)


def sdk_for(running: RunningKeel, key: str = "any") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=running.base_url, api_key=key, timeout=10)


def test_400_bad_request(keel: RunningKeel, claude: anthropic.Anthropic) -> None:
    """A body that is not a Messages request is a BadRequestError naming the field, in Anthropic's shape."""
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model="fast", max_tokens=50, messages=[])
    assert info.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": info.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert "messages" in info.value.message
    response = httpx.post(f"{keel.base_url}/v1/messages", content=b"{not json", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


@both
def test_400_from_the_upstream_is_not_retried(
    claude: anthropic.Anthropic, upstream: MockServer, uid, stream: bool
) -> None:
    """A context-length refusal is a BadRequestError after one attempt, with the upstream's reason."""
    model = uid("context-length")
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        create(claude, f"claude/{model}", stream)
    assert len(upstream.attempts(model=model)) == 1


def test_401_without_a_valid_key(keel_for: KeelFactory, uid) -> None:
    """With a master key, a wrong x-api-key is an AuthenticationError; the right one answers."""
    running = keel_for({"m": [f"claude/{uid('ok')}"]}, server={"master_key": "mk-test-secret"})
    with sdk_for(running, "wrong") as sdk, pytest.raises(anthropic.AuthenticationError) as info:
        create(sdk, "m")
    assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with sdk_for(running, "mk-test-secret") as sdk:
        assert create(sdk, "m").content[0].text


def test_404_unknown_model(claude: anthropic.Anthropic) -> None:
    """An unknown model is a NotFoundError listing the configured ones."""
    with pytest.raises(anthropic.NotFoundError) as info:
        create(claude, "no-such-model")
    assert info.value.body["error"]["type"] == "not_found_error" and "fast" in info.value.message  # type: ignore[index]


def test_413_body_too_large(keel_for: KeelFactory, uid) -> None:
    """A body over the server's limit is refused as request_too_large before it is read."""
    running = keel_for({"m": [f"claude/{uid('ok')}"]}, server={"max_body_bytes": 2000})
    with sdk_for(running) as sdk, pytest.raises(anthropic.APIStatusError) as info:
        sdk.messages.create(model="m", max_tokens=50, messages=[{"role": "user", "content": "x" * 5000}])
    assert info.value.status_code == 413
    assert info.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]


@both
def test_429_after_keels_retries_is_not_retried_by_the_sdk(
    keel_for: KeelFactory, upstream: MockServer, uid, stream: bool
) -> None:
    """A persistent 429 is a RateLimitError after exactly Keel's attempts (3), not 3 times 3."""
    model = uid("rate-limit")
    running = keel_for({"m": [f"claude/{model}"]}, retry={"max_attempts": 3})
    with sdk_for(running) as sdk, pytest.raises(anthropic.RateLimitError) as info:
        create(sdk, "m", stream)
    assert info.value.response.headers["x-should-retry"] == "false"
    assert info.value.response.headers["x-keel-attempts"] == "3"
    assert len(upstream.attempts(model=model)) == 3


def test_429_passes_retry_after_on(claude: anthropic.Anthropic, upstream: MockServer, uid) -> None:
    """A retry-after too long for Keel to wait reaches the caller, and the SDK does not retry."""
    model = uid("rate-limit:retry_after=30")
    with pytest.raises(anthropic.RateLimitError) as info:
        create(claude, f"claude/{model}")
    assert info.value.response.headers["retry-after"] == "30"
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert len(upstream.attempts(model=model)) == 1


@both
def test_529_overloaded(keel_for: KeelFactory, upstream: MockServer, uid, stream: bool) -> None:
    """Routes that stay overloaded are an OverloadedError naming them, after Keel's attempts only."""
    a, b = uid("overloaded:x=a"), uid("overloaded:x=b")
    running = keel_for({"m": [f"claude/{a}", f"claude/{b}"]}, retry={"max_attempts": 2})
    with sdk_for(running) as sdk, pytest.raises(anthropic.OverloadedError) as info:
        create(sdk, "m", stream)
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert f"claude/{a}" in info.value.message and f"claude/{b}" in info.value.message
    assert len(upstream.attempts(model=a)) == 2 and len(upstream.attempts(model=b)) == 2


@both
def test_5xx_after_keels_retries(keel_for: KeelFactory, upstream: MockServer, uid, stream: bool) -> None:
    """A route that keeps failing with 500 is an InternalServerError (api_error) after Keel's attempts."""
    model = uid("error-500:times=100")
    running = keel_for({"m": [f"claude/{model}"]}, retry={"max_attempts": 2})
    with sdk_for(running) as sdk, pytest.raises(anthropic.InternalServerError) as info:
        create(sdk, "m", stream)
    assert info.value.status_code == 500
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert len(upstream.attempts(model=model)) == 2


def test_deadline_is_504(claude: anthropic.Anthropic, upstream: MockServer, uid) -> None:
    """x-keel-timeout bounds the call; running out is a GatewayTimeoutError the SDK does not retry."""
    model = uid("hang")
    with pytest.raises(anthropic.GatewayTimeoutError) as info:
        create(claude, f"claude/{model}", extra_headers={"x-keel-timeout": "0.3"})
    assert info.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]
    assert len(upstream.attempts(model=model)) == 1


def test_no_route_available_is_529(keel_for: KeelFactory, upstream: MockServer, uid) -> None:
    """With every circuit open the call fails fast as overloaded, without reaching the upstream."""
    model = uid("error-503")
    running = keel_for(
        {"m": [f"claude/{model}"]},
        retry={"max_attempts": 1},
        breaker={"failure_threshold": 1, "open_for": 30},
    )
    with sdk_for(running) as sdk:
        with pytest.raises(anthropic.OverloadedError):
            create(sdk, "m")
        with pytest.raises(anthropic.OverloadedError) as info:
            create(sdk, "m")
    assert "unavailable" in info.value.message
    assert len(upstream.attempts(model=model)) == 1
