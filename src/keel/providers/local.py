"""``LocalProvider``: the free last tier — SmolLM2 in-process through llama.cpp, loaded on first use.

The runtime serves the OpenAI wire format on a loopback port locked with a random key, so this
provider is the OpenAI adapter with the ``llamacpp`` profile pointed at it, not a second adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RouteUnavailableError
from ..types import ChatRequest, ChatResponse, Chunk
from .base import AttemptLimits, one_by_one
from .openai import OpenAIProvider

if TYPE_CHECKING:
    from ..route import Route
    from ._llama_runtime import LlamaRuntime

__all__ = ["LocalProvider"]


class LocalProvider:
    """Starts the local model the first time a cascade reaches it; answers name it as the model."""

    def __init__(
        self, name: str = "local", *, model_path: str | Path | None = None, context_window: int | None = None
    ) -> None:
        self.name = name
        self._model_path = Path(model_path) if model_path else None
        self._context_window = context_window
        self._runtime: LlamaRuntime | None = None
        self._client: OpenAIProvider | None = None
        self._lock = asyncio.Lock()

    @property
    def context_window(self) -> int:
        """The model's context in tokens: as configured, else what its weights were trained with
        (read from the GGUF header, without loading the model)."""
        if self._context_window is None:
            from ._llama_runtime import context_window

            self._context_window = context_window(self._model_path)
        return self._context_window

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (it is only when a cascade reached it)."""
        return self._client is not None

    async def _ready(self, route: Route) -> OpenAIProvider:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                from ._llama_runtime import LlamaRuntime, LocalModelUnavailable

                try:
                    self._runtime = LlamaRuntime(self._model_path, n_ctx=self.context_window)
                    base_url, key = await self._runtime.ensure_started()
                except LocalModelUnavailable as exc:
                    raise RouteUnavailableError(str(exc), route=route.name) from None
                self._client = OpenAIProvider(self.name, base_url=base_url, api_key=key, profile="llamacpp")
        return self._client

    def model_name(self) -> str:
        from ._llama_runtime import LlamaRuntime

        return self._runtime.model_name if self._runtime else LlamaRuntime.default_model_name()

    async def chat(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> ChatResponse:
        client = await self._ready(route)
        response = await client.chat(request, route, limits)
        response.model = self.model_name()
        response.native = None  # it names the runtime's model, not this one
        return response

    def stream(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> AsyncIterator[Chunk]:
        return one_by_one(self.stream_batches(request, route, limits))

    async def stream_batches(
        self, request: ChatRequest, route: Route, limits: AttemptLimits
    ) -> AsyncIterator[list[Chunk]]:
        """The runtime's chunks as they arrive together, named for this model."""
        client = await self._ready(route)
        name = self.model_name()
        source = client.stream_batches(request, route, limits)
        try:
            async for batch in source:
                for chunk in batch:
                    chunk.model, chunk.native = name, ()
                yield batch
        finally:
            await source.aclose()  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        if self._runtime is not None:
            await asyncio.to_thread(self._runtime.close)
