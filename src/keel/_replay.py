"""A complete response replayed as stream chunks, for a streaming caller answered without a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from .types import ChatResponse, Chunk, ChunkChoice, Delta, ToolCall

__all__ = ["chunks_of"]


async def chunks_of(response: ChatResponse) -> AsyncIterator[Chunk]:
    """Role, content, tool calls and finish per choice, then usage: the shape a live stream has."""

    def chunk(choices: list[ChunkChoice]) -> Chunk:
        return Chunk(id=response.id, created=response.created, model=response.model, choices=choices)

    for choice in response.choices:
        message = choice.message
        tool_calls = [
            ToolCall(index=i, id=call.id, type=call.type, function=call.function)
            for i, call in enumerate(message.tool_calls or ())
        ]
        yield chunk([ChunkChoice(index=choice.index, delta=Delta(role=message.role, content=""))])
        if message.text():
            yield chunk([ChunkChoice(index=choice.index, delta=Delta(content=message.text()))])
        if tool_calls:
            yield chunk([ChunkChoice(index=choice.index, delta=Delta(tool_calls=tool_calls))])
        yield chunk(
            [ChunkChoice(index=choice.index, delta=Delta(), finish_reason=choice.finish_reason or "stop")]
        )
    if response.usage is not None:
        last = chunk([])
        last.usage = response.usage
        yield last
