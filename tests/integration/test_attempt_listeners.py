"""Attempt listeners see every attempt — first, retry, fallback — and a stream's attempt when it ends."""

from __future__ import annotations

import pytest

from keel import ChatRequest, ChunkStream, Gateway, RequestError
from keel.call import Call
from keel.route import Route
from keel.types import Attempt

from .conftest import GatewayFactory, user


class Recorder:
    def __init__(self, refuse_after: int | None = None) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.refuse_after = refuse_after

    async def attempt_started(self, call: Call, route: Route, attempt: Attempt) -> None:
        if self.refuse_after is not None and len(self.events) >= self.refuse_after * 2:
            raise RequestError("budget exhausted")
        self.events.append(("started", route.name, attempt.outcome))

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        self.events.append(("ended", route.name, attempt.outcome))


def prepared(gateway: Gateway, recorder: Recorder, stream: bool = False) -> Call:
    call = gateway.new_call(ChatRequest(model="smart", messages=user()), stream=stream)
    call.listeners.append(recorder)
    return call


async def test_listeners_see_retries_and_fallbacks(gateway_for: GatewayFactory, uid) -> None:
    """A retried then failed-over call reports each attempt's start and end, in order."""
    flaky, backup = uid("error-503"), uid("ok")
    gateway = gateway_for({"smart": [f"mock/{flaky}", f"mock/{backup}"]}, retry={"max_attempts": 2})
    recorder = Recorder()
    await gateway.run(prepared(gateway, recorder))
    a, b = f"mock/{flaky}", f"mock/{backup}"
    assert recorder.events == [
        ("started", a, "pending"),
        ("ended", a, "server_error"),
        ("started", a, "pending"),
        ("ended", a, "server_error"),
        ("started", b, "pending"),
        ("ended", b, "ok"),
    ]


async def test_stream_attempt_ends_with_the_stream(gateway_for: GatewayFactory, uid) -> None:
    """A streamed attempt's end is reported when the stream ends, with its usage."""
    ok = uid("ok:tokens=3")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})
    recorder = Recorder()
    call = prepared(gateway, recorder, stream=True)
    reply = await gateway.run(call)
    assert isinstance(reply, ChunkStream)
    assert recorder.events == [("started", f"mock/{ok}", "pending")]
    await reply.collect()
    assert recorder.events[-1] == ("ended", f"mock/{ok}", "ok")
    assert call.attempts[0].usage is not None and call.attempts[0].usage.output_tokens == 3


async def test_a_listener_can_stop_the_call(gateway_for: GatewayFactory, mock_server, uid) -> None:
    """A listener that refuses an attempt stops the call before that attempt reaches the upstream."""
    flaky = uid("error-503")
    gateway = gateway_for({"smart": [f"mock/{flaky}"]}, retry={"max_attempts": 3})
    call = prepared(gateway, Recorder(refuse_after=1))
    with pytest.raises(RequestError, match="budget exhausted"):
        await gateway.run(call)
    assert len(mock_server.attempts(model=flaky)) == 1
    assert [a.outcome for a in call.attempts] == ["server_error", "refused"]
