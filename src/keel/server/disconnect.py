"""``cancel_on_disconnect``: a client that goes away cancels the work being done for it.

ASGI servers report a lost connection only through ``receive()``, and uvicorn silently drops what
is sent after it, so without a watcher a handler would read the upstream to its end for nobody.
Under ``keel serve`` the connection itself tells (``KeelHttpProtocol``'s disconnect hooks); under
any other server a watcher task waits in ``receive()``. Either way the handler's task is cancelled;
cancelling the gateway's stream closes the upstream connection (DESIGN §1: the upstream sees the
close within a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from .protocol import DISCONNECTED, ON_DISCONNECT

__all__ = ["cancel_on_disconnect"]


class cancel_on_disconnect:
    """``async with cancel_on_disconnect(receive, scope) as watch:`` — leave the block if the client
    leaves.

    A cancellation caused by the disconnect is swallowed at the block's end and ``watch.disconnected``
    is set; any other cancellation (a shutdown) passes through untouched.
    """

    __slots__ = ("_hooks", "_receive", "_scope", "_task", "_watcher", "disconnected")

    def __init__(
        self, receive: Callable[[], Awaitable[dict[str, Any]]], scope: Mapping[str, Any] | None = None
    ) -> None:
        self._receive = receive
        self._scope = scope
        self._task: asyncio.Task[Any] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._hooks: list[Callable[[], None]] | None = None
        self.disconnected = False

    async def __aenter__(self) -> cancel_on_disconnect:
        self._task = asyncio.current_task()
        scope = self._scope
        hooks = scope.get(ON_DISCONNECT) if scope is not None else None
        if hooks is None or (scope is not None and scope.get(DISCONNECTED)):
            # No hooks, or gone already: the watcher's first receive() says so at the block's
            # first suspension.
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        else:
            self._hooks = hooks
            hooks.append(self._lost)
        return self

    def _lost(self) -> None:
        self.disconnected = True
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        try:
            while (await self._receive())["type"] != "http.disconnect":
                pass
        except Exception:  # a server that cannot say: nothing to watch
            return
        self._lost()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if self._hooks is not None:
            self._hooks.remove(self._lost)
            self._hooks = None
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
        # The disconnect's cancel is undone here; a cancel from elsewhere (a shutdown) still counts.
        return bool(
            self.disconnected
            and self._task is not None
            and self._task.uncancel() == 0
            and kind is asyncio.CancelledError
        )
