"""``cancel_on_disconnect``: a client that goes away cancels the work being done for it.

ASGI servers report a lost connection only through ``receive()``, and uvicorn silently drops what
is sent after it, so without a watcher a handler would read the upstream to its end for nobody.
The watcher cancels the handler's task; cancelling the gateway's stream closes the upstream
connection (DESIGN §1: the upstream sees the close within a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

__all__ = ["cancel_on_disconnect"]


class cancel_on_disconnect:
    """``async with cancel_on_disconnect(receive) as watch:`` — leave the block if the client leaves.

    A cancellation caused by the disconnect is swallowed at the block's end and ``watch.disconnected``
    is set; any other cancellation (a shutdown) passes through untouched.
    """

    __slots__ = ("_receive", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._receive = receive
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.disconnected = False

    async def __aenter__(self) -> cancel_on_disconnect:
        self._task = asyncio.current_task()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def _watch(self) -> None:
        try:
            while (await self._receive())["type"] != "http.disconnect":
                pass
        except Exception:  # a server that cannot say: nothing to watch
            return
        self.disconnected = True
        if self._task is not None:
            self._task.cancel()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
        # The watcher's cancel is undone here; a cancel from elsewhere (a shutdown) still counts.
        return bool(
            self.disconnected
            and self._task is not None
            and self._task.uncancel() == 0
            and kind is asyncio.CancelledError
        )
