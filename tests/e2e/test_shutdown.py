"""Graceful shutdown: new connections are refused, streams in flight finish, then the gateway closes."""

from __future__ import annotations

import threading
import time

import httpx2 as httpx
import pytest

from .conftest import KeelFactory, user


def test_shutdown_drains_an_in_flight_stream(keel_for: KeelFactory, uid) -> None:
    """A stream started before shutdown completes with [DONE]; the server stops after it, not before."""
    running = keel_for({"m": [f"mock/{uid('ok:tokens=20,token_ms=40')}"]}, server={"drain_timeout": 10})
    body = {"model": "m", "messages": user(), "stream": True}
    received: list[bytes] = []
    with httpx.stream("POST", f"{running.v1}/chat/completions", json=body, timeout=10) as response:
        chunks = response.iter_raw()
        received.append(next(chunks))
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{running.base_url}/healthz", timeout=1)
        received.extend(chunks)
    stopper.join(10)
    assert b"".join(received).endswith(b"data: [DONE]\n\n")
    assert not running.thread.is_alive()
    assert running.app.context.draining  # the app's shutdown ran: the gateway is closed


def test_drain_timeout_bounds_shutdown(keel_for: KeelFactory, uid) -> None:
    """A stream that would outlast the drain timeout is cut, never holding shutdown up."""
    running = keel_for({"m": [f"mock/{uid('ok:tokens=200,token_ms=50')}"]}, server={"drain_timeout": 1})
    body = {"model": "m", "messages": user(), "stream": True}
    with httpx.stream("POST", f"{running.v1}/chat/completions", json=body, timeout=10) as response:
        chunks = response.iter_raw()
        next(chunks)
        started = time.monotonic()
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in chunks:
                pass
    stopper.join(10)
    assert time.monotonic() - started < 3
