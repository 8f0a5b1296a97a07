"""``KeelHttpProtocol``: uvicorn's httptools protocol, stamping when each request began to arrive and
telling the request's handler at once when its client goes away.

The stamp lets ``x-keel-overhead-ms`` include the time a request waited for the event loop before
its handler ran (DESIGN's "including time queued before the handler"): it is taken when the parser
sees the request's first bytes, which is as early as user space can know of it.

The disconnect hooks let ``cancel_on_disconnect`` learn of a lost client from the connection itself
instead of from a task per request parked in ``receive()``: that task, and the cancellation that
ended it on every ordinary request, cost a scheduling round and a few reference cycles each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .exchange import RECEIVED_AT

__all__ = ["DISCONNECTED", "ON_DISCONNECT", "KeelHttpProtocol"]

ON_DISCONNECT = "keel.on_disconnect"
"""Scope key of the request's list of callables to call if its client goes away before the response
is complete."""

DISCONNECTED = "keel.disconnected"
"""Scope key set to True once the request's client has gone away before its response was complete."""


class KeelHttpProtocol(HttpToolsProtocol):
    """Adds ``scope["keel.received_at"]`` (``time.perf_counter()``) and the disconnect hooks to every
    HTTP request."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[RECEIVED_AT] = time.perf_counter()  # type: ignore[literal-required]
        self.scope[ON_DISCONNECT] = []  # type: ignore[literal-required]

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        hooks: list[Callable[[], None]] = []
        if cycle is not None and not cycle.response_complete:
            scope = cycle.scope
            scope[DISCONNECTED] = True  # type: ignore[literal-required]
            hooks = scope.get(ON_DISCONNECT) or []  # type: ignore[assignment]
        super().connection_lost(exc)
        for hook in list(hooks):
            hook()
