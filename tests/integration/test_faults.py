"""The fault matrix through the library against ``keel mock`` over real HTTP: what the caller got,
and what the upstream saw (attempt counts per route, gaps between attempts)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from keel import (
    ContentPolicyError,
    ContextLengthExceededError,
    DeadlineExceededError,
    Gateway,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user


async def answer(
    gateway: Gateway, stream: bool, model: str = "smart", **params: object
) -> tuple[str, str | None]:
    """The text and answering route, by either API."""
    if stream:
        handle = gateway.stream(model, user(), **params)
        text = "".join([chunk.text async for chunk in handle])
        assert handle.response is not None
        return text, handle.response.route
    response = await gateway.chat(model, user(), **params)
    return response.text, response.route


def gaps(records: list[dict]) -> list[float]:
    times = [record["monotonic"] for record in records]
    return [b - a for a, b in itertools.pairwise(times)]


both = pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])


@both
async def test_healthy(gateway_for: GatewayFactory, mock_server: MockServer, uid, stream: bool) -> None:
    """A healthy route answers once, with usage, the route and the upstream's request id."""
    ok = uid("ok:tokens=5")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    if stream:
        handle = gateway.stream("smart", user())
        chunks = [chunk async for chunk in handle]
        response = handle.response
        assert response is not None and len(chunks) >= 5
    else:
        response = await gateway.chat("smart", user())
    assert response.text.strip()
    assert response.route == f"mock/{ok}"
    assert response.usage is not None and response.usage.output_tokens == 5
    assert [a.outcome for a in response.attempts] == ["ok"]
    assert response.upstream_request_id and response.upstream_request_id.startswith("req_mock")
    assert len(mock_server.attempts(model=ok)) == 1


@both
async def test_429_retry_after_is_waited_for(gateway_for, mock_server, uid, stream: bool) -> None:
    """A 429 with Retry-After 2 s is retried on the same route after at least ~2 s."""
    limited = uid("rate-limit:retry_after=2,times=1")
    gateway = gateway_for({"smart": [f"mock/{limited}"]})
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{limited}"
    records = mock_server.attempts(model=limited)
    assert [r["outcome"] for r in records] == ["429", "ok"]
    assert gaps(records)[0] >= 1.95


@both
async def test_429_retry_after_as_http_date(gateway_for, mock_server, uid, stream: bool) -> None:
    """Retry-After given as an HTTP date is honoured too."""
    limited = uid("rate-limit:retry_after=2,retry_after_date=1,times=1")
    gateway = gateway_for({"smart": [f"mock/{limited}"]})
    text, _ = await answer(gateway, stream)
    assert text
    records = mock_server.attempts(model=limited)
    assert [r["outcome"] for r in records] == ["429", "ok"]
    assert gaps(records)[0] >= 0.9  # an HTTP date has whole-second resolution


@both
async def test_429_long_retry_after_falls_back_at_once(gateway_for, mock_server, uid, stream: bool) -> None:
    """A Retry-After longer than the configured wait moves to the next route without waiting."""
    limited, backup = uid("rate-limit:retry_after=30"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{limited}", f"mock/{backup}"]})
    started = time.monotonic()
    text, route = await answer(gateway, stream)
    assert route == f"mock/{backup}" and text
    assert time.monotonic() - started < 1.0
    assert len(mock_server.attempts(model=limited)) == 1


async def test_429_cools_the_route_down(gateway_for, mock_server, uid) -> None:
    """After a 429 with a long Retry-After, later calls skip the route until it passes."""
    limited, backup = uid("rate-limit:retry_after=30"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{limited}", f"mock/{backup}"]})
    for _ in range(3):
        _, route = await answer(gateway, False)
        assert route == f"mock/{backup}"
    assert len(mock_server.attempts(model=limited)) == 1


@both
async def test_429_without_retry_after_backs_off_then_gives_up(gateway_for, mock_server, uid, stream) -> None:
    """Without Retry-After a 429 is retried a few times with jittered backoff, then raised."""
    limited = uid("rate-limit")
    retry = {"max_attempts": 3, "initial_backoff": 0.2, "max_backoff": 1}
    gateway = gateway_for({"smart": [f"mock/{limited}"]}, retry=retry)
    with pytest.raises(RateLimitError) as info:
        await answer(gateway, stream)
    records = mock_server.attempts(model=limited)
    assert len(records) == 3
    # Retry n waits at least half of initial * 2**(n-1) (the jitter's lower bound): 0.1 s, then 0.2 s.
    floors = [retry["initial_backoff"] * 2**n / 2 for n in range(2)]
    assert all(gap >= floor for gap, floor in zip(gaps(records), floors, strict=True)), gaps(records)
    assert [a.outcome for a in info.value.attempts] == ["rate_limited"] * 3


@both
async def test_500_once_is_retried(gateway_for, mock_server, uid, stream: bool) -> None:
    """A 500 once, then healthy: the same route answers on the second attempt."""
    flaky = uid("error-500:times=1")
    gateway = gateway_for({"smart": [f"mock/{flaky}"]})
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{flaky}"
    assert [r["outcome"] for r in mock_server.attempts(model=flaky)] == ["500", "ok"]


@both
async def test_503_persistent_falls_back(gateway_for, mock_server, uid, stream: bool) -> None:
    """A route that keeps answering 503 is retried up to max_attempts, then the next route answers."""
    down, backup = uid("error-503"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{down}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=down)) == 2
    assert len(mock_server.attempts(model=backup)) == 1


@both
async def test_503_everywhere_raises_server_error_naming_routes(gateway_for, uid, stream: bool) -> None:
    """When every route fails, the error names each route tried and why."""
    a, b = uid("error-503:x=a"), uid("error-503:x=b")
    gateway = gateway_for({"smart": [f"mock/{a}", f"mock/{b}"]}, retry={"max_attempts": 1})
    with pytest.raises(ServerError) as info:
        await answer(gateway, stream)
    assert f"mock/{a}" in str(info.value) and f"mock/{b}" in str(info.value)
    assert [a.outcome for a in info.value.attempts] == ["server_error", "server_error"]


@both
async def test_reset_before_headers_is_retried_then_falls_back(gateway_for, mock_server, uid, stream) -> None:
    """A connection reset before headers is retried on the same route, then the next route answers."""
    reset, backup = uid("reset"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{reset}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=reset)) == 2


@both
async def test_no_response_is_not_retried(gateway_for, mock_server, uid, stream: bool) -> None:
    """A route that never answers times out once and is not retried; the next route answers."""
    silent, backup = uid("hang"), uid("ok")
    gateway = gateway_for(
        {"smart": [f"mock/{silent}", f"mock/{backup}"]}, timeouts={"attempt": 1.0, "first_token": 0.5}
    )
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=silent)) == 1


async def test_slow_first_token_falls_back_invisibly(gateway_for, mock_server, uid) -> None:
    """A slow first token times out before the commit point: the caller sees only the next answer."""
    slow, backup = uid("slow-first-token:ttft_ms=3000,tokens=4"), uid("ok:tokens=4")
    gateway = gateway_for({"smart": [f"mock/{slow}", f"mock/{backup}"]}, timeouts={"first_token": 0.4})
    handle = gateway.stream("smart", user())
    chunks = [chunk async for chunk in handle]
    assert handle.response is not None and handle.response.route == f"mock/{backup}"
    assert all(chunk.model == chunks[0].model for chunk in chunks)
    assert len(mock_server.attempts(model=slow)) == 1
    assert [a.outcome for a in handle.response.attempts] == ["timeout", "ok"]


async def test_stream_cut_after_commit_is_an_explicit_error(gateway_for, mock_server, uid) -> None:
    """A stream cut after content was delivered raises StreamInterruptedError with the partial text."""
    cut, backup = uid("cut:after=3,tokens=10"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{cut}", f"mock/{backup}"]})
    handle = gateway.stream("smart", user())
    received = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in handle:
            received.append(chunk.text)
    assert "".join(received) == info.value.partial.text
    assert info.value.partial.text.strip()
    assert info.value.partial.choices[0].finish_reason is None
    assert mock_server.attempts(model=backup) == []


async def test_cut_non_stream_body_is_retried(gateway_for, mock_server, uid) -> None:
    """A non-streamed body cut mid-way is malformed: retried, then the next route answers."""
    cut, backup = uid("cut:after=3"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{cut}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    text, route = await answer(gateway, False)
    assert route == f"mock/{backup}" and text
    assert len(mock_server.attempts(model=cut)) == 2


async def test_stall_after_commit_is_detected_within_idle_timeout(gateway_for, uid) -> None:
    """A stream that goes silent after content fails within the idle timeout, explicitly."""
    stall = uid("stall:after=2,tokens=10")
    gateway = gateway_for({"smart": [f"mock/{stall}"]}, timeouts={"idle": 0.3})
    handle = gateway.stream("smart", user())
    started = None
    with pytest.raises(StreamInterruptedError) as info:
        async for _ in handle:
            started = started or time.monotonic()
    assert started is not None
    assert time.monotonic() - started < 0.3 + 0.5
    assert "idle" in str(info.value)


@both
async def test_stall_before_commit_falls_back(gateway_for, mock_server, uid, stream: bool) -> None:
    """An answer that never starts (headers, then silence) times out once: the next route answers."""
    stall, backup = uid("stall:after=0"), uid("ok")
    gateway = gateway_for(
        {"smart": [f"mock/{stall}", f"mock/{backup}"]}, timeouts={"first_token": 0.3, "attempt": 0.6}
    )
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=stall)) == 1


async def test_malformed_chunk_after_commit_is_an_explicit_error(gateway_for, uid) -> None:
    """A malformed stream event after content raises StreamInterruptedError."""
    bad = uid("malformed-chunk:after=2")
    gateway = gateway_for({"smart": [f"mock/{bad}"]})
    with pytest.raises(StreamInterruptedError, match="malformed"):
        await answer(gateway, True)


async def test_malformed_before_commit_is_retried(gateway_for, mock_server, uid) -> None:
    """A malformed event before any content is retried invisibly; persistent, the next route answers."""
    bad, backup = uid("malformed-chunk:after=0"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{bad}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    text, route = await answer(gateway, True)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=bad)) == 2


async def test_malformed_body_is_retried(gateway_for, mock_server, uid) -> None:
    """A 200 whose body is not JSON is retried, then the next route answers."""
    bad, backup = uid("malformed-chunk"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{bad}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    text, route = await answer(gateway, False)
    assert text and route == f"mock/{backup}"
    assert len(mock_server.attempts(model=bad)) == 2


@pytest.mark.parametrize("usage", [True, False], ids=["usage-then-end", "end-before-usage"])
async def test_a_finished_stream_without_done_is_complete(
    gateway_for, mock_server: MockServer, uid, tmp_path: Path, usage: bool
) -> None:
    """The finish chunk (and usage), then the body ends without [DONE]: the caller gets the whole
    answer once, as completed; the ledger has one ok attempt, billed from the upstream's usage or,
    when the usage chunk never came, from Keel's estimate."""
    nodone = uid("no-done:tokens=4" + ("" if usage else ",usage=0"))
    gateway = gateway_for({"smart": [f"mock/{nodone}"]})
    handle = gateway.stream("smart", user())
    chunks = [chunk async for chunk in handle]
    assert "".join(chunk.text for chunk in chunks) == "token0 token1 token2 token3"
    assert [choice.finish_reason for c in chunks for choice in c.choices if choice.finish_reason] == ["stop"]
    assert handle.response is not None and handle.response.route == f"mock/{nodone}"
    assert (handle.response.usage.output_tokens if handle.response.usage else None) == (4 if usage else None)
    await gateway.aclose()
    ledger = SQLiteLedger(tmp_path / "keel.db")
    try:
        [row] = await ledger.rows()
    finally:
        await ledger.close()
    [attempt] = row["attempts"]
    assert row["status"] == "ok" and attempt["outcome"] == "ok" and row["cost_usd"] > 0
    assert row["output_tokens"] == (4 if usage else attempt["delivered_bytes"])  # billed, as its cost
    assert ("delivered_bytes" in attempt) is not usage  # no usage: billed from the delivered bytes
    assert [r["outcome"] for r in mock_server.attempts(model=nodone)] == ["no_done"]


@both
async def test_context_length_moves_only_to_a_larger_window(gateway_for, mock_server, uid, stream) -> None:
    """A context-length error is never retried on the same route; only a larger window is tried next."""
    small, same, large = uid("context-length"), uid("ok:x=same"), uid("ok:x=large")
    gateway = gateway_for(
        {
            "smart": [
                {"provider": "mock", "model": small, "context_window": 8192},
                {"provider": "mock", "model": same, "context_window": 8192},
                {"provider": "mock", "model": large, "context_window": 128000},
            ]
        }
    )
    text, route = await answer(gateway, stream)
    assert text and route == f"mock/{large}"
    assert len(mock_server.attempts(model=small)) == 1
    assert mock_server.attempts(model=same) == []


async def test_context_length_without_larger_window_raises(gateway_for, mock_server, uid) -> None:
    """With no larger window to go to, the caller gets ContextLengthExceededError."""
    small, other = uid("context-length"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{small}", f"mock/{other}"]})
    with pytest.raises(ContextLengthExceededError):
        await gateway.chat("smart", user())
    assert len(mock_server.attempts(model=small)) == 1
    assert mock_server.attempts(model=other) == []


@both
async def test_content_policy_stops(gateway_for, mock_server, uid, stream: bool) -> None:
    """A content-policy refusal is propagated with the provider's reason: no retry, no fallback."""
    refused, other = uid("content-policy"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{refused}", f"mock/{other}"]})
    with pytest.raises(ContentPolicyError) as info:
        await answer(gateway, stream)
    assert "safety" in str(info.value).lower()
    assert len(mock_server.attempts(model=refused)) == 1
    assert mock_server.attempts(model=other) == []


async def test_content_policy_fallback_when_configured(gateway_for, mock_server, uid) -> None:
    """The operator may allow fallback on content-policy refusals."""
    refused, other = uid("content-policy"), uid("ok")
    gateway = gateway_for(
        {"smart": [f"mock/{refused}", f"mock/{other}"]}, router={"fallback_on_content_policy": True}
    )
    _, route = await answer(gateway, False)
    assert route == f"mock/{other}"


@both
async def test_400_is_never_retried(gateway_for, mock_server, uid, stream: bool) -> None:
    """A plain 400 (here: a refused assistant prefill) is raised at once, same route or any other."""
    strict, other = uid("no-prefill"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{strict}", f"mock/{other}"]})
    messages = [*user(), {"role": "assistant", "content": "Sure, here"}]
    with pytest.raises(InvalidRequestError):
        if stream:
            async for _ in gateway.stream("smart", messages):
                pass
        else:
            await gateway.chat("smart", messages)
    assert len(mock_server.attempts(model=strict)) == 1
    assert mock_server.attempts(model=other) == []


@both
async def test_auth_error_moves_to_next_route(gateway_for, mock_server, uid, stream: bool) -> None:
    """A 401 from a provider means the route is misconfigured: not retried, the next route answers."""
    bad, other = uid("auth-error"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{bad}", f"mock/{other}"]})
    _, route = await answer(gateway, stream)
    assert route == f"mock/{other}"
    assert len(mock_server.attempts(model=bad)) == 1


@both
async def test_total_deadline_bounds_the_call(gateway_for, uid, stream: bool) -> None:
    """A call never outlives its total deadline, however many routes are left."""
    a, b = uid("hang:x=a"), uid("hang:x=b")
    gateway = gateway_for({"smart": [f"mock/{a}", f"mock/{b}"]}, timeouts={"attempt": 5, "total": 0.6})
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        await answer(gateway, stream)
    assert time.monotonic() - started < 1.2
