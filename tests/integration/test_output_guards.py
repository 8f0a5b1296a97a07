"""Output guards through the library: a complete answer that breaks a ``block`` guard is refused; a
stream is cut at the chunk that breaks it — the chunks before delivered, the upstream closed at once
when unshared, only the guarded caller cut when shared; ``flag`` records and lets through."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from keel import OutputGuardError, StreamInterruptedError
from keel.mock import MockServer

from .conftest import GatewayFactory, user

FORBIDDEN = {"output": [{"name": "no-forbidden", "kind": "patterns", "patterns": [r"forbidden\d+"]}]}


async def closed_within(mock_server: MockServer, model: str, since: float, seconds: float) -> float | None:
    """Seconds from ``since`` until the mock saw the connection of ``model``'s request close."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        records = mock_server.attempts(model=model)
        if records and records[0].get("closed_at"):
            return float(records[0]["closed_at"]) - since
        await asyncio.sleep(0.01)
    return None


async def test_a_complete_answer_that_breaks_a_guard_is_refused(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    bad, good = uid("ok:tokens=40,forbidden_at=30"), uid("ok:tokens=40")
    gateway = gateway_for({"bad": [f"mock/{bad}"], "good": [f"mock/{good}"]}, guards=FORBIDDEN)
    with pytest.raises(OutputGuardError) as info:
        await gateway.chat("bad", user())
    assert info.value.guard == "no-forbidden" and info.value.code == "output_guard_triggered"
    assert "forbidden30" not in str(info.value)  # named, never quoted
    assert len((await gateway.chat("good", user())).text.split()) == 40


async def test_a_stream_is_cut_at_the_chunk_that_breaks_a_guard(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """Tokens 0-29 arrive, then the guard's error; the mock sees its connection closed within 1 s
    and sent far fewer than the 400 tokens it would have."""
    model = uid("ok:tokens=400,token_ms=5,forbidden_at=30")
    gateway = gateway_for({"smart": [f"mock/{model}"]}, guards=FORBIDDEN)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        async for chunk in gateway.stream("smart", user()):
            received.append(chunk.text)
    cut = time.monotonic()
    assert isinstance(info.value.__cause__, OutputGuardError)
    assert "".join(received).split() == [f"token{i}" for i in range(30)]
    waited = await closed_within(mock_server, model, cut, 1.0)
    assert waited is not None and waited <= 1.0
    assert mock_server.attempts(model=model)[0]["chunks_sent"] < 100


async def test_an_unpaced_batch_is_split_at_the_breaking_chunk(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """Many events in one read: the chunks of the batch before the breaking one still go out."""
    model = uid("ok:tokens=60,forbidden_at=30")
    gateway = gateway_for({"smart": [f"mock/{model}"]}, guards=FORBIDDEN)
    received: list[str] = []
    with pytest.raises(StreamInterruptedError):
        async for chunk in gateway.stream("smart", user()):
            received.append(chunk.text)
    assert "".join(received).split() == [f"token{i}" for i in range(30)]


async def test_only_the_guarded_caller_of_a_shared_stream_is_cut(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    model = uid("ok:tokens=60,token_ms=10,forbidden_at=30")
    guarded = {"output": [{**FORBIDDEN["output"][0], "match": {"keys": ["guarded"]}}]}
    # Two keys of one team share calls (cache.tenant: team); the guard is the first key's alone.
    gateway = gateway_for({"smart": [f"mock/{model}"]}, guards=guarded, cache={"tenant": "team"})

    async def read(key: str) -> tuple[list[str], BaseException | None]:
        texts: list[str] = []
        caller = {"key_id": key, "team": "one"}
        try:
            async for chunk in gateway.stream("smart", user(), temperature=0, keel=caller):
                texts.append(chunk.text)
        except StreamInterruptedError as error:
            return texts, error
        return texts, None

    (cut_texts, cut_error), (whole_texts, whole_error) = await asyncio.gather(read("guarded"), read("other"))
    assert isinstance(cut_error, StreamInterruptedError) and isinstance(cut_error.__cause__, OutputGuardError)
    assert "".join(cut_texts).split() == [f"token{i}" for i in range(30)]
    assert whole_error is None and len("".join(whole_texts).split()) == 60
    assert len(mock_server.attempts(model=model)) == 1  # one upstream call, shared
    assert mock_server.attempts(model=model)[0]["outcome"] != "client_closed"


async def test_a_flag_guard_records_and_lets_through(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    model = uid("ok:tokens=40,forbidden_at=30")
    flagged = {"output": [{**FORBIDDEN["output"][0], "mode": "flag"}]}
    gateway = gateway_for({"smart": [f"mock/{model}"]}, guards=flagged)
    answer = await gateway.chat("smart", user())
    assert len(answer.text.split()) == 40
    chunks = [chunk.text async for chunk in gateway.stream("smart", user())]
    assert len("".join(chunks).split()) == 40
