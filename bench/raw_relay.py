#!/usr/bin/env python3
"""The least a Python relay can spend per streamed chunk: bytes from one socket to another.

No HTTP framework and no HTTP client: an asyncio ``Protocol`` per side (on uvloop). A client
connection's bytes go to an upstream connection of its own as they come (opened on its first bytes,
and again if the upstream closed it between responses), and the upstream's bytes (status line,
headers, chunked body) go back unchanged as they come, with flow control both ways (a side that
cannot take more pauses reading on the other). It understands nothing of HTTP, so it is no gateway:
it is the floor under any relay on this machine, below ``minimal_proxy.py --stream`` (uvicorn +
aiohttp), for ``long_stream.py --floor-raw``.

With ``--parse`` (``long_stream.py --floor-lean``) it also does, in the upstream's callback, the
least a gateway must do with each event: the HTTP framing parsed (httptools), each ``data:`` event
cut out and decoded (``orjson``), its text kept (the answer, for a ledger) and watched (a canary's
kind of search over the text so far); the bytes still go out unchanged.

    .venv/bin/python bench/raw_relay.py --upstream 127.0.0.1:8090 --port 4300
"""

from __future__ import annotations

import argparse
import asyncio

from orjson import loads

PARSE = False  # --parse
CANARY = "ref-0123456789abcdef"  # what the watch looks for (never in the mock's answers)


class _Upstream(asyncio.Protocol):
    """The connection to the upstream: what it receives goes to its client."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass
        if PARSE:
            import httptools

            self.parser = httptools.HttpResponseParser(self)
            self.buf = b""  # an event not complete yet
            self.parts: list[str] = []  # the answer's text so far
            self.tail = ""  # the end of the text so far, for a canary split across events

    def data_received(self, data: bytes) -> None:
        assert self.client.transport is not None
        if PARSE:
            self.parser.feed_data(data)
        self.client.transport.write(data)

    def on_body(self, body: bytes) -> None:
        """httptools: a piece of the body (chunked framing removed)."""
        buf = self.buf + body if self.buf else body
        while (i := buf.find(b"\n\n")) >= 0:
            event = buf[:i]
            buf = buf[i + 2 :]
            if event.startswith(b"data: {"):
                obj = loads(event[6:])
                choices = obj.get("choices")
                if choices:
                    first = choices[0]
                    delta = first.get("delta")
                    text = delta.get("content") if delta else None
                    if text:
                        self.parts.append(text)
                        window = (self.tail + text).lower()
                        if CANARY in window:
                            raise RuntimeError("the canary came back")
                        self.tail = window[-len(CANARY) :]
                    first.get("finish_reason")
                obj.get("usage")
        self.buf = buf

    def on_message_complete(self) -> None:
        """httptools: the response has ended (the connection may carry another)."""
        self.parts, self.tail = [], ""

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.upstream is self:
            self.client.upstream = None  # the next request opens another

    def pause_writing(self) -> None:
        assert self.client.transport is not None
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        assert self.client.transport is not None
        self.client.transport.resume_reading()


class _Client(asyncio.Protocol):
    """A client's connection: what it receives goes to its upstream connection."""

    def __init__(self, host: str, port: int, tasks: set[asyncio.Task[None]]) -> None:
        self.host, self.port, self.tasks = host, port, tasks
        self.transport: asyncio.Transport | None = None
        self.upstream: _Upstream | None = None
        self.pending: list[bytes] | None = None  # bytes waiting for the upstream connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(data)
        elif self.pending is not None:
            self.pending.append(data)
        else:
            self.pending = [data]
            task = asyncio.get_running_loop().create_task(self._connect())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(lambda: _Upstream(self), self.host, self.port)
        self.upstream = upstream
        assert upstream.transport is not None
        for data in self.pending or ():
            upstream.transport.write(data)
        self.pending = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="host:port every connection is relayed to")
    parser.add_argument("--port", type=int, default=4300)
    parser.add_argument("--parse", action="store_true", help="also parse each event as a gateway must")
    args = parser.parse_args()
    global PARSE
    PARSE = args.parse
    host, port = args.upstream.rsplit(":", 1)

    async def serve() -> None:
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Client(host, int(port), tasks), "127.0.0.1", args.port)
        async with server:
            await server.serve_forever()

    import uvloop

    uvloop.run(serve())


if __name__ == "__main__":
    main()
