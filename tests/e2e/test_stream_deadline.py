"""Through ``keel serve``: a committed stream that keeps trickling, every token well inside the idle
timeout, still ends at the attempt's or the call's deadline (``timeouts.attempt``, ``timeouts.total``,
``x-keel-timeout``) with an error event and no ``[DONE]``, and the upstream connection is closed."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, user

# 400 tokens 10 ms apart: the whole answer takes at least 4 s; each gap is far inside the 0.5 s idle timeout.
TRICKLE = "ok:tokens=400,token_ms=10"
DEADLINE_S = 1.0

BOUNDS = [
    pytest.param({"attempt": DEADLINE_S, "total": 8}, {}, id="timeouts.attempt"),
    pytest.param({"attempt": 8, "total": DEADLINE_S}, {}, id="timeouts.total"),
    pytest.param({"attempt": 8, "total": 8}, {"x-keel-timeout": str(DEADLINE_S)}, id="x-keel-timeout"),
]


def closed_record(upstream: MockServer, model: str, within: float = 5.0) -> dict[str, Any]:
    """The mock's one record for ``model`` once the connection is closed (waits at most ``within``)."""
    stop = time.monotonic() + within
    while True:
        [record] = upstream.attempts(model=model)
        if record["outcome"] != "pending" or time.monotonic() > stop:
            return record
        time.sleep(0.02)


@pytest.mark.parametrize(("timeouts", "headers"), BOUNDS)
def test_a_trickling_stream_ends_at_its_deadline(
    keel_for: KeelFactory, upstream: MockServer, uid, timeouts: dict[str, float], headers: dict[str, str]
) -> None:
    """The SDK gets part of the answer, then an error event at the deadline, never a quiet or late end."""
    slow = uid(TRICKLE)
    running = keel_for(timeouts=timeouts)
    received: list[str] = []
    with openai.OpenAI(base_url=running.v1, api_key="any", timeout=20) as sdk:
        started = time.monotonic()
        stream = sdk.chat.completions.create(
            model=f"mock/{slow}", messages=user(), stream=True, extra_headers=headers
        )
        with pytest.raises(openai.APIError, match="interrupted"):
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        elapsed = time.monotonic() - started
    assert DEADLINE_S - 0.05 <= elapsed < DEADLINE_S + 1.5  # the whole answer needs 4 s or more
    text = "".join(received)
    assert text.startswith("token0 token1") and "token399" not in text
    record = closed_record(upstream, slow)
    assert record["outcome"] == "client_closed"
    assert record["closed_at"] - started < DEADLINE_S + 1.5
