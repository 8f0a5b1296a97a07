"""A committed stream that keeps trickling, every token well inside the idle timeout, still ends at
the attempt's or the call's deadline: an explicit interruption, and the upstream connection closed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from keel import StreamInterruptedError
from keel.mock import MockServer

from .conftest import GatewayFactory, user

# 400 tokens 10 ms apart: the whole answer takes at least 4 s; each gap is far inside the 0.5 s idle timeout.
TRICKLE = "ok:tokens=400,token_ms=10"
DEADLINE_S = 1.0

BOUNDS = [
    pytest.param({"attempt": DEADLINE_S, "total": 15}, {}, "timeout", id="timeouts.attempt"),
    pytest.param({"attempt": 10, "total": DEADLINE_S}, {}, "deadline_exceeded", id="timeouts.total"),
    pytest.param({"attempt": 10, "total": 15}, {"timeout": DEADLINE_S}, "deadline_exceeded", id="timeout="),
]


async def closed_record(mock_server: MockServer, model: str, within: float = 5.0) -> dict[str, Any]:
    """The mock's one record for ``model`` once the connection is closed (waits at most ``within``)."""
    stop = time.monotonic() + within
    while True:
        [record] = mock_server.attempts(model=model)
        if record["outcome"] != "pending" or time.monotonic() > stop:
            return record
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("timeouts", "params", "outcome"), BOUNDS)
async def test_a_trickling_stream_ends_at_its_deadline(
    gateway_for: GatewayFactory,
    mock_server: MockServer,
    uid,
    timeouts: dict[str, float],
    params: dict[str, Any],
    outcome: str,
) -> None:
    """The idle timeout alone never ends a stream that keeps sending: the deadline cuts it, explicitly."""
    slow = uid(TRICKLE)
    gateway = gateway_for({"smart": [f"mock/{slow}"]}, timeouts=timeouts)
    started = time.monotonic()
    handle = gateway.stream("smart", user(), **params)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in handle:
            received.append(chunk.text)
    elapsed = time.monotonic() - started
    assert DEADLINE_S - 0.05 <= elapsed < DEADLINE_S + 1.5  # the whole answer needs 4 s or more
    assert handle.response is not None
    [attempt] = handle.response.attempts  # what the ledger records: a cut, and why
    assert attempt.outcome == "cut" and attempt.error and attempt.error.startswith(f"{outcome}: ")
    text = info.value.partial.text
    assert text == "".join(received) and text.startswith("token0 token1")
    assert "token399" not in text
    if outcome == "timeout":  # the route's own limit is named, not the last slice of it waited for
        assert f"no attempt within {DEADLINE_S:g}s" in str(info.value)
    record = await closed_record(mock_server, slow)
    assert record["outcome"] == "client_closed"
    assert record["closed_at"] - started < DEADLINE_S + 1.5
