"""Scheduling on the server's hot path: request bodies go out at once, disconnects need no task."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from keel.server import eager_tasks
from keel.server.disconnect import cancel_on_disconnect
from keel.server.protocol import DISCONNECTED, ON_DISCONNECT

BODY = b'{"model":"m","messages":[]}' * 8


class HeldServer:
    """A loopback HTTP server in a thread that answers the first request, then holds the second
    unread until ``release`` — so a test can look at what had reached it meanwhile."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.accepted = threading.Event()
        self.go = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        self.conn = conn
        self.accepted.set()
        for index in range(2):
            if index == 1:
                self.go.wait(5)
            self._read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
        while len(rest) < length:
            rest += conn.recv(65536)

    def pending(self) -> bytes:
        """What has arrived on the held connection and not been read (without reading it)."""
        assert self.conn is not None
        self.conn.setblocking(False)
        try:
            return self.conn.recv(1 << 20, socket.MSG_PEEK)
        except BlockingIOError:
            return b""
        finally:
            self.conn.setblocking(True)

    def close(self) -> None:
        self.go.set()
        self.thread.join(5)
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def held() -> Iterator[HeldServer]:
    server = HeldServer()
    yield server
    server.close()


async def body_sent_before_the_loop_moves_on(held: HeldServer, *, eager: bool) -> bool:
    """Post on a kept-alive connection; say whether the whole request had reached the server when
    the callback queued right behind the post's first step ran."""
    loop = asyncio.get_running_loop()
    if eager:
        assert eager_tasks.install(loop) or sys.version_info >= (3, 12)
    url = f"http://127.0.0.1:{held.port}/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=BODY) as warm:  # connects; the next post reuses it
            await warm.read()
        seen: asyncio.Future[bytes] = loop.create_future()
        post = asyncio.ensure_future(session.post(url, data=BODY))
        loop.call_soon(lambda: seen.set_result(held.pending()))
        pending = await seen
        held.go.set()
        async with await post as answer:
            assert await answer.read() == b"ok"
    loop.set_task_factory(None)
    return pending.endswith(BODY)


async def test_a_request_body_leaves_in_the_same_step_as_its_headers(held: HeldServer) -> None:
    """With Keel's task factory, the body is on the wire before anything else queued gets to run."""
    assert await body_sent_before_the_loop_moves_on(held, eager=True)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="aiohttp starts its body writer eagerly itself")
async def test_without_the_factory_the_body_waits_behind_the_queue(held: HeldServer) -> None:
    """The problem the factory solves: on 3.11 aiohttp's body writer runs after what was queued."""
    assert not await body_sent_before_the_loop_moves_on(held, eager=False)


@pytest.fixture
def eager_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(eager_tasks, "EAGER", frozenset({"probe"}))
    yield


VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="outer")


async def probe(steps: list[str], gate: asyncio.Future[str], fail: bool = False) -> str:
    VAR.set("inner")
    steps.append("first")
    value = await gate
    steps.append("second")
    if fail:
        raise ValueError(value)
    return value


@pytest.mark.usefixtures("eager_probe")
async def test_the_factory_runs_the_first_step_now_and_the_rest_as_a_task() -> None:
    loop = asyncio.get_running_loop()
    steps: list[str] = []
    gate: asyncio.Future[str] = loop.create_future()
    task = eager_tasks.eager_factory(loop, probe(steps, gate))
    assert steps == ["first"]
    assert VAR.get() == "outer"  # the first step ran in the task's own context
    gate.set_result("done")
    assert await task == "done"
    assert steps == ["first", "second"]

    failing = eager_tasks.eager_factory(loop, probe([], gate, fail=True))
    with pytest.raises(ValueError, match="done"):
        await failing

    other = eager_tasks.eager_factory(loop, asyncio.sleep(0, "plain"))
    assert isinstance(other, asyncio.Task) and await other == "plain"


@pytest.mark.usefixtures("eager_probe")
async def test_an_eagerly_started_task_can_be_cancelled() -> None:
    loop = asyncio.get_running_loop()
    steps: list[str] = []
    gate: asyncio.Future[str] = loop.create_future()
    task = eager_tasks.eager_factory(loop, probe(steps, gate))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gate.cancelled() and steps == ["first"]


async def never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_a_disconnect_hook_cancels_the_block_without_a_watcher_task() -> None:
    scope: dict[str, Any] = {ON_DISCONNECT: []}
    loop = asyncio.get_running_loop()

    def lose() -> None:
        scope[DISCONNECTED] = True
        for hook in list(scope[ON_DISCONNECT]):
            hook()

    loop.call_later(0.02, lose)
    async with cancel_on_disconnect(never, scope) as watch:
        assert len(asyncio.all_tasks()) == 1  # only this one: no task parked in receive()
        await asyncio.sleep(5)
    assert watch.disconnected
    assert scope[ON_DISCONNECT] == []


async def test_an_ordinary_block_leaves_no_hook_and_no_cancel_behind() -> None:
    scope: dict[str, Any] = {ON_DISCONNECT: []}
    async with cancel_on_disconnect(never, scope) as watch:
        await asyncio.sleep(0.01)
    assert not watch.disconnected and scope[ON_DISCONNECT] == []
    await asyncio.sleep(0.01)  # would raise CancelledError if a cancel had been left pending


async def test_a_client_gone_before_the_block_is_noticed_at_its_first_suspension() -> None:
    scope: dict[str, Any] = {ON_DISCONNECT: [], DISCONNECTED: True}

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async with cancel_on_disconnect(gone, scope) as watch:
        await asyncio.sleep(5)
    assert watch.disconnected
