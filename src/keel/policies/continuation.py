"""Mid-stream continuation: a stream cut after its commit point is finished by a prefill-capable route.

The answer so far is sent to the next route as an assistant prefill, and that route's chunks follow
the ones already delivered, so the caller receives one answer. They carry no native bytes (the
upstream's own stream would open a second message), so a server re-encodes them after the
passed-through ones. A route that does not accept prefill (or cannot call the tools the request
forces) is never tried as a continuation; when no route can continue, the caller gets the original
cut, never a prefill refusal (DESIGN §1). Off by default (``router.continue_streams``).

The caller's usage (the finishing part's usage chunk) is rewritten to cover the whole answer: the
output of every part — a cut part's as its upstream reported it, else one token per text delta it
delivered — and the input the finishing route read.

Anthropic refuses a prefill that ends in whitespace, so the prefill is the answer so far without its
trailing whitespace; the caller already has that whitespace, so as much of it is taken off the start
of the continuation (a model continuing "…word" usually begins " next").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from ..errors import StreamInterruptedError, UpstreamError
from ..reply import ChunkStream
from ..telemetry.logs import get_logger
from ..types import Chunk, Message, Usage
from ._tools import takes
from .attempt import stopped_by_keel

if TYPE_CHECKING:
    from ..call import Call
    from ..route import Route
    from .base import RouteHandler

__all__ = ["continued"]

log = get_logger("keel.continuation")


def continued(
    call: Call, first: ChunkStream, later: Sequence[Route], route_handler: RouteHandler
) -> ChunkStream:
    """``first``'s chunks, then — if it is cut — the rest of the answer from a route in ``later``."""
    candidates = [
        route for route in later if route.capabilities.supports_prefill and takes(route, call.request)
    ]
    if not candidates:
        return first
    return ChunkStream(batches=_stitched(call, first, candidates, route_handler), model=first.partial.model)


async def _stitched(
    call: Call, first: ChunkStream, candidates: list[Route], route_handler: RouteHandler
) -> AsyncIterator[list[Chunk]]:
    messages = list(call.request.messages)
    prefix = messages.pop().text() if messages and messages[-1].role == "assistant" else ""
    current, delivered = first, prefix
    owed = 0  # whitespace the caller already has and the continuation may repeat at its start
    pieces = 0  # text deltas of the current part: its output tokens, if it is cut before its usage
    earlier: Usage | None = None  # the output of the parts cut so far
    original: StreamInterruptedError | None = None
    try:
        while True:
            try:
                while True:
                    try:
                        batch = await current.next_batch()
                    except StopAsyncIteration:
                        return
                    for chunk in batch:
                        if original is not None:
                            # The caller already has the role delta, and the upstream's own bytes
                            # would start a second message: a continuation's chunks are re-encoded.
                            for choice in chunk.choices:
                                choice.delta.role = None
                            chunk.native = ()
                            if owed:
                                owed = _drop_leading_space(chunk, owed)
                            if chunk.usage is not None and earlier is not None:
                                chunk.usage = _whole_answer(earlier, chunk.usage)
                        text = chunk.text
                        if text:
                            pieces += 1
                            delivered += text
                    yield batch
            except StreamInterruptedError as cut:
                if stopped_by_keel(cut) is not None:
                    raise  # an output guard stopped it: the answer must not go on elsewhere
                original = original or cut
                if cut.partial.choices and cut.partial.choices[0].message.tool_calls:
                    raise original from None  # a half-written tool call cannot be prefilled
                part = cut.partial.usage or Usage(output_tokens=pieces)
                earlier, pieces = part if earlier is None else earlier + part, 0
                kept = delivered.rstrip()
                owed = len(delivered) - len(kept)
                prefill = Message(role="assistant", content=kept)
                call.request = call.request.model_copy(
                    update={"messages": [*messages, prefill], "native": None, "native_format": None}
                )
                current = await _next_stream(call, candidates, route_handler, original)
    finally:
        await current.aclose()


async def _next_stream(
    call: Call, candidates: list[Route], route_handler: RouteHandler, original: StreamInterruptedError
) -> ChunkStream:
    """The next candidate's stream for the prefilled request; else the original cut."""
    while candidates:
        route = candidates.pop(0)
        call.attempt_reason = "continuation"
        try:
            reply = await route_handler(call, route)
        except UpstreamError as error:
            log.info(
                "continuation failed", route=route.name, reason=error.outcome, request_id=call.request_id
            )
            continue
        if isinstance(reply, ChunkStream):
            log.info("continuing stream", route=route.name, request_id=call.request_id)
            return reply
    raise original from None


def _whole_answer(earlier: Usage, finishing: Usage) -> Usage:
    """The usage the caller is told for a stitched answer: the output of every part it received,
    and the input the finishing route read (the conversation and the prefill)."""
    return finishing.model_copy(
        update={
            "output_tokens": earlier.output_tokens + finishing.output_tokens,
            "reasoning_tokens": earlier.reasoning_tokens + finishing.reasoning_tokens,
        }
    )


def _drop_leading_space(chunk: Chunk, owed: int) -> int:
    """Take up to ``owed`` whitespace characters off the start of ``chunk``'s text; what is still owed
    (0 once any text has come: only the very start of a continuation can repeat what was sent)."""
    for choice in chunk.choices:
        text = choice.delta.content
        if not text:
            continue
        stripped = text.lstrip()
        drop = min(owed, len(text) - len(stripped))
        choice.delta.content = text[drop:]
        return owed - drop if not stripped else 0
    return owed
