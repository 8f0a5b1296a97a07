"""Backpressure through a real ``keel serve`` and ``keel mock``: while a client does not read, the
upstream is not read ahead (decision 0003); the mock can only write what the buffers on the way hold.

Those buffers are bounded, not zero: on loopback the kernel lets each socket on the way queue a few
MB (about 30,000 of these chunks in all), so the answer is made far longer than that.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import orjson

from keel.mock import MockServer

from .conftest import KeelFactory, user

TOKENS = 150_000  # about 33 MB of chunks from the mock
_RCVBUF = 4096


def record(upstream: MockServer, model: str) -> dict[str, Any]:
    [attempt] = upstream.attempts(model=model)
    return attempt


def settled_count(upstream: MockServer, model: str, *, quiet_s: float = 0.5, within_s: float = 30) -> int:
    """How many chunks the mock has written, once that stops growing for ``quiet_s``."""
    stop = time.monotonic() + within_s
    last, since = -1, time.monotonic()
    while time.monotonic() < stop:
        now = record(upstream, model)["chunks_sent"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
        time.sleep(0.05)
    raise AssertionError(f"the mock kept writing for {within_s}s (at {last} chunks)")


def receive(sock: socket.socket, size: int) -> bytes:
    """Up to ``size`` bytes; the stream must not end here."""
    data = sock.recv(size)
    assert data, "keel serve closed the connection mid-answer"
    return data


def wait_for(condition: Any, within_s: float = 10) -> None:
    stop = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < stop, "timed out waiting for the mock"
        time.sleep(0.02)


def test_a_client_that_stops_reading_stops_the_upstream(
    keel_for: KeelFactory, upstream: MockServer, uid
) -> None:
    """With the client paused the mock has sent a small part of a long answer, more as the client reads
    on, and it sees the connection closed when the client leaves."""
    model = uid(f"ok:tokens={TOKENS}")
    # Generous timeouts: building a 150,000-token answer takes the mock a while on a busy machine.
    running = keel_for(timeouts={"first_token": 30, "attempt": 60, "total": 60})
    body = orjson.dumps({"model": f"mock/{model}", "messages": user(), "stream": True})
    port = int(running.base_url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)  # before connect: a small window
        sock.settimeout(20)
        sock.connect(("127.0.0.1", port))
        head = (
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        received = receive(sock, _RCVBUF)
        while b"data: {" not in received:
            received += receive(sock, _RCVBUF)
        paused = settled_count(upstream, model)  # the client reads nothing meanwhile
        assert paused < TOKENS // 2, f"the mock wrote {paused} of {TOKENS} chunks to a client that read none"

        # Reading on, the client takes a normal receive buffer: with the 4 KB one, Linux's loopback
        # (64 KB segments) may leave the window update unsent, and the server's kernel then sends
        # by zero-window probes, a byte at a time, whatever Keel does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        taken = 0
        while taken < 4 << 20:  # read on: 4 MB, more than the first buffers held
            taken += len(receive(sock, 1 << 16))
        wait_for(lambda: record(upstream, model)["chunks_sent"] > paused)
    wait_for(lambda: record(upstream, model)["outcome"] != "pending")
    assert record(upstream, model)["outcome"] == "client_closed"
    assert record(upstream, model)["chunks_sent"] < TOKENS
