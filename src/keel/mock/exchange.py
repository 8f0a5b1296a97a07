"""One request being answered: its body, its attempt record, its delays and its connection."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

from aiohttp import web

from .spec import Spec
from .state import MockState
from .wire import new_id

__all__ = ["Exchange"]


class Exchange:
    """The per-request context every behaviour works through."""

    def __init__(
        self,
        request: web.Request,
        body: dict[str, Any],
        spec: Spec,
        entry: dict[str, Any],
        state: MockState,
        format: str = "openai",
    ) -> None:
        self.request = request
        self.format = format  # the wire format to answer in: "openai" or "anthropic"
        self.body = body
        self.spec = spec
        self.entry = entry
        self.state = state
        self.stream = body.get("stream") is True
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.completion_id = new_id("msg_" if format == "anthropic" else "chatcmpl-")
        self.created = int(time.time())
        self.finished = False
        self.ttft_default = state.timings.ttft_ms
        self._outcome_if_closed = "client_closed"

    @property
    def ttft_ms(self) -> float:
        """Delay before the first content token (stream) or the response (non-stream)."""
        return self.ms("ttft_ms", self.ttft_default)

    @property
    def token_ms(self) -> float:
        """Delay between content chunks of a stream."""
        return self.ms("token_ms", self.state.timings.token_ms)

    def ms(self, name: str, default: float) -> float:
        """A delay parameter in milliseconds."""
        value = self.spec.number(name, default)
        return default if value is None else value

    def headers(self, **extra: str) -> dict[str, str]:
        """Response headers every reply carries: the request id, named as the wire format names it."""
        name = "request-id" if self.format == "anthropic" else "x-request-id"
        return {name: self.entry["request_id"], **extra}

    async def pause(self, ms: float) -> None:
        """Sleep ``ms`` milliseconds (cancelled at once if the client goes away)."""
        if ms > 0:
            await asyncio.sleep(ms / 1000)

    def mark(self, outcome: str) -> None:
        """Record the outcome so far, while the reply is still going."""
        self.state.log.update(self.entry, outcome=outcome)

    def finish(self, outcome: str) -> None:
        """Record how the mock ended its reply; a later disconnect is then not the client's doing."""
        self.finished = True
        self.state.log.update(self.entry, outcome=outcome, ended_at=time.monotonic())

    def closed_by_client(self) -> None:
        """Record that the client closed the connection before the mock had finished."""
        if self.finished:
            return
        self.finished = True
        now = time.monotonic()
        self.state.log.update(self.entry, outcome=self._outcome_if_closed, closed_at=now, ended_at=now)

    def interrupted_by_shutdown(self) -> None:
        """Record that the server shut down while this reply was still going."""
        if not self.finished:
            self.finish("server_closed")

    def abort(self, *, reset: bool = False) -> web.Response:
        """Drop the connection now (with ``reset``, as a TCP RST); returns a reply that is never sent."""
        transport = self.request.transport
        if transport is not None:
            sock = transport.get_extra_info("socket")
            if reset and sock is not None:
                # Linger 0 makes close() send RST instead of FIN: a reset, as a crashed peer gives.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response()

    async def hold(self, ms: float, outcome: str, *, on_close: str) -> web.Response:
        """Send nothing for ``ms`` (or until the client leaves), then drop the connection."""
        self.mark(outcome)
        self._outcome_if_closed = on_close
        await self.pause(ms)
        self.finish(outcome)
        return self.abort()
