"""The sync facade: the async gateway driven from a private event loop in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .gateway import Gateway, GatewayStream
    from .prompts.handle import PromptHandle
    from .types import ChatResponse, Chunk

__all__ = ["SyncGateway", "SyncPrompt"]

T = TypeVar("T")


class SyncGateway:
    """``gw.sync.chat(...)`` and ``for chunk in gw.sync.stream(...)``: same results as the async API.

    The gateway's connections belong to this facade's loop: use one gateway either through ``sync``
    or from your own event loop, not both.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="keel-sync", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def chat(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> ChatResponse:
        return self._run(self._gateway.chat(model, list(messages), **params))

    def structured(self, output: Any, messages: Iterable[Any] = (), **params: Any) -> Any:
        """``Gateway.structured``, blocking."""
        return self._run(self._gateway.structured(output, list(messages), **params))

    def stream(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> Iterator[Chunk]:
        yield from self._chunks(self._gateway.stream(model, list(messages), **params))

    def prompt(self, name: str, *, label: str | None = None, version: int | None = None) -> SyncPrompt:
        """``Gateway.prompt``, blocking: ``gw.sync.prompt("summarize").chat(document=text)``."""
        return SyncPrompt(self, self._gateway.prompt(name, label=label, version=version))

    def _chunks(self, stream: GatewayStream) -> Iterator[Chunk]:
        try:
            while True:
                try:
                    yield self._run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())

    def close(self) -> None:
        self._run(self._gateway.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


class SyncPrompt:
    """A named prompt's ``chat``, ``structured`` and ``stream``, blocking (``PromptHandle``'s)."""

    def __init__(self, facade: SyncGateway, handle: PromptHandle) -> None:
        self._facade = facade
        self._handle = handle

    def chat(self, messages: Iterable[Any] = (), **kwargs: Any) -> ChatResponse:
        return self._facade._run(self._handle.chat(list(messages), **kwargs))

    def structured(self, output: Any = None, messages: Iterable[Any] = (), **kwargs: Any) -> Any:
        return self._facade._run(self._handle.structured(output, list(messages), **kwargs))

    def stream(self, messages: Iterable[Any] = (), **kwargs: Any) -> Iterator[Chunk]:
        yield from self._facade._chunks(self._handle.stream(list(messages), **kwargs))
