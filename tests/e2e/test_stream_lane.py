"""Through ``keel serve``: a committed stream is relayed from the upstream connection's callback (the
lane, ``ChunkStream.relay``), and what the client, the ledger and the upstream see is what the read
path gives them: every chunk once and in order, the usage, the end, the timeouts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import anthropic
import openai
import pytest

from keel.mock import MockServer
from keel.providers._http import new_session
from keel.providers._lane import LaneHandler
from keel.providers._stream_reads import BatchReader
from keel.server.direct_body import DirectBody

from .conftest import KeelFactory, RunningKeel, user
from .sdk_stream import ledger_rows, openai_stream

TOKENS = 40


@pytest.fixture
def lane_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The bodies written from the lane (the server runs in this process, in a thread)."""
    written: list[bytes] = []
    write = DirectBody.write

    def counted(self: DirectBody, body: bytes) -> bool:
        written.append(body)
        return write(self, body)

    monkeypatch.setattr(DirectBody, "write", counted)
    yield written


def test_a_paced_stream_goes_through_the_lane(
    keel_for: KeelFactory, upstream: MockServer, uid, tmp_path: Path, lane_writes: list[bytes]
) -> None:
    """40 tokens 5 ms apart: most chunks leave from the connection's callback, and the SDK, the
    ledger and the upstream see one whole, ordinary stream."""
    model = uid(f"ok:tokens={TOKENS},token_ms=5")
    running = keel_for(database=f"sqlite:///{tmp_path / 'keel.db'}", ledger={"durability": "strict"})
    got = openai_stream(running.v1, f"mock/{model}", f"lane-{model[-8:]}")
    assert got.text == " ".join(f"token{i}" for i in range(TOKENS))
    assert got.finishes == ["stop"]
    assert [u.completion_tokens for u in got.usages] == [TOKENS]
    assert got.raw.endswith(b"data: [DONE]\n\n")
    assert len(lane_writes) >= TOKENS // 2, len(lane_writes)
    assert sum(body.count(b"data: {") for body in lane_writes) <= TOKENS + 1  # nothing sent twice
    [row] = ledger_rows(tmp_path / "keel.db")
    assert row["status"] == "ok" and row["output_tokens"] == TOKENS
    assert len(upstream.attempts(model=model)) == 1


def test_a_native_anthropic_stream_goes_through_the_lane(
    keel: RunningKeel, uid, lane_writes: list[bytes]
) -> None:
    """``/v1/messages`` in front of an Anthropic upstream: the same, in Anthropic's events."""
    with (
        anthropic.Anthropic(base_url=keel.base_url, api_key="any", timeout=20) as sdk,
        sdk.messages.stream(
            model=f"claude/{uid(f'ok:tokens={TOKENS},token_ms=5')}", max_tokens=100, messages=user()
        ) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == " ".join(f"token{i}" for i in range(TOKENS))
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == TOKENS
    assert len(lane_writes) >= TOKENS // 2


def test_silence_in_the_lane_ends_the_stream_at_the_idle_timeout(
    keel_for: KeelFactory, uid, lane_writes: list[bytes]
) -> None:
    """The upstream goes silent after 5 paced tokens: the SDK raises one idle timeout (0.3 s) after
    the last token came, not earlier and not much later."""
    running = keel_for(timeouts={"idle": 0.3})
    model = uid("stall:after=5,tokens=20,token_ms=5")
    received: list[str] = []
    last = time.monotonic()
    with (
        openai.OpenAI(base_url=running.v1, api_key="any", max_retries=0, timeout=10) as sdk,
        pytest.raises(openai.APIError, match="idle") as raised,
    ):
        for chunk in sdk.chat.completions.create(model=f"mock/{model}", messages=user(), stream=True):
            received.append(chunk.choices[0].delta.content or "")
            last = time.monotonic()
    silence = time.monotonic() - last
    assert "".join(received) == "token0 token1 token2 token3 token4", raised.value
    assert 0.25 <= silence < 1.0, silence
    assert lane_writes  # the tokens before the silence came through the lane


def test_connections_are_lane_handlers(upstream: MockServer, uid) -> None:
    """The assumption the lane rests on (aiohttp's protocol class, set through the connector's
    factory): a provider session's connections are ``LaneHandler``s, and one reader can attach."""

    async def check() -> None:
        session = new_session()
        try:
            body = {"model": uid("ok:tokens=50,token_ms=20"), "messages": user(), "stream": True}

            async def respond() -> aiohttp.ClientResponse:
                return await session.post(f"{upstream.base_url}/chat/completions", data=json.dumps(body))

            reader = BatchReader(respond, lambda _id: None, "x-request-id")  # type: ignore[arg-type,return-value]
            reader._response = response = await respond()
            handler = reader.attach(lambda: None)
            assert isinstance(handler, LaneHandler)
            assert reader.attach(lambda: None) is None  # one lane per connection
            handler.lane = None
            response.close()
        finally:
            await session.close()

    asyncio.run(check())


def test_the_end_reaches_the_client_when_the_last_event_does(
    keel: RunningKeel, uid, lane_writes: list[bytes]
) -> None:
    """The upstream sends [DONE] and keeps its body open for 2 s: the client has its [DONE] (the SDK
    its last chunk) within a fraction of that, not when the upstream finally ends the body."""
    model = uid("ok:tokens=20,token_ms=5,linger_ms=2000")
    started = time.monotonic()
    got = openai_stream(keel.v1, f"mock/{model}", f"linger-{model[-8:]}")
    elapsed = time.monotonic() - started
    assert got.text == " ".join(f"token{i}" for i in range(20)) and got.finishes == ["stop"]
    assert got.raw.endswith(b"data: [DONE]\n\n")
    assert elapsed < 1.2, elapsed
    assert lane_writes
