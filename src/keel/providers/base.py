"""The provider contract: one method per mode, and a close. Adapters never retry, sleep or fall back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..types import ChatRequest, ChatResponse, Chunk

if TYPE_CHECKING:
    from ..route import Route

__all__ = ["AttemptLimits", "Provider", "in_batches", "one_by_one"]


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    """What an adapter must enforce itself: the connect timeout and the attempt's total time."""

    connect: float
    total: float


@runtime_checkable
class Provider(Protocol):
    """Speaks one wire protocol to one endpoint over one pooled connection pool.

    Every failure is raised as a class of ``keel.errors``; a stream that ends before it is complete
    raises ``MalformedResponseError`` instead of ending quietly (complete: its protocol's end marker,
    or on OpenAI's wire, which some servers close without ``[DONE]``, every choice's finish reason).
    """

    name: str

    async def chat(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> ChatResponse: ...

    def stream(self, request: ChatRequest, route: Route, limits: AttemptLimits) -> AsyncIterator[Chunk]:
        """Chunks as they arrive; the HTTP request is sent on the first ``__anext__``.

        A provider may also offer ``stream_batches`` (same arguments): the chunks as lists, every
        chunk one network read brought in one list, which the gateway then relays in one write.
        Without it each chunk is a batch of its own.
        """
        ...

    async def aclose(self) -> None: ...


async def one_by_one(batches: AsyncIterator[list[Chunk]]) -> AsyncIterator[Chunk]:
    """The chunks of ``batches`` one at a time: a provider's ``stream`` made from its ``stream_batches``."""
    try:
        async for batch in batches:
            for chunk in batch:
                yield chunk
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def in_batches(chunks: AsyncIterator[Chunk]) -> AsyncIterator[list[Chunk]]:
    """Each chunk as a batch of its own: the batches of a provider that only has ``stream``."""
    try:
        async for chunk in chunks:
            yield [chunk]
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
