"""``KeelHttpProtocol``: uvicorn's httptools protocol, stamping when each request began to arrive.

The stamp lets ``x-keel-overhead-ms`` include the time a request waited for the event loop before
its handler ran (DESIGN's "including time queued before the handler"): it is taken when the parser
sees the request's first bytes, which is as early as user space can know of it.
"""

from __future__ import annotations

import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .exchange import RECEIVED_AT

__all__ = ["KeelHttpProtocol"]


class KeelHttpProtocol(HttpToolsProtocol):
    """Adds ``scope["keel.received_at"]`` (``time.perf_counter()``) to every HTTP request."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[RECEIVED_AT] = time.perf_counter()  # type: ignore[literal-required]
