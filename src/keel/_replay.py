"""A complete response replayed as stream chunks, for a streaming caller answered without a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .reply import ChunkStream
from .types import ChatResponse, Chunk, ChunkChoice, Delta, ToolCall

__all__ = ["chunks_of", "replayed"]


def replayed(response: ChatResponse) -> ChunkStream:
    """A stream of ``response``'s chunks, all in one batch (a relay sends them in one write)."""
    return ChunkStream(batches=_at_once(chunks_of(response)), model=response.model)


async def _at_once(chunks: list[Chunk]) -> AsyncIterator[list[Chunk]]:
    yield chunks


def chunks_of(response: ChatResponse) -> list[Chunk]:
    """Role, content, tool calls and finish per choice, then usage: the shape a live stream has."""

    def chunk(choices: list[ChunkChoice]) -> Chunk:
        return Chunk(id=response.id, created=response.created, model=response.model, choices=choices)

    chunks = []
    for choice in response.choices:
        message = choice.message
        tool_calls = [
            ToolCall(index=i, id=call.id, type=call.type, function=call.function)
            for i, call in enumerate(message.tool_calls or ())
        ]
        chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(role=message.role, content=""))]))
        if message.text():
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(content=message.text()))]))
        if tool_calls:
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(tool_calls=tool_calls))]))
        chunks.append(
            chunk(
                [ChunkChoice(index=choice.index, delta=Delta(), finish_reason=choice.finish_reason or "stop")]
            )
        )
    if response.usage is not None:
        last = chunk([])
        last.usage = response.usage
        chunks.append(last)
    return chunks
