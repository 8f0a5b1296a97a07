"""``PiiRedactionPolicy``: personal data in a request, flagged, refused, or kept from the provider.

It runs after the prompt is rendered and before money and the cache (DESIGN "Wave 2"), for the calls
``guards.pii`` matches. It looks at every message's text and tool-call arguments, and the request's
``user``. With ``redact``, each value is replaced by a placeholder that keeps its shape
(``email-1@redacted.invalid``), the provider (and the cache key, and coalescing) sees only those,
and the answer has the originals put back — text, refusals and tool-call arguments, streamed too,
where a placeholder may be split across chunks. The mapping lives on this call alone: an answer
shared with another caller or replayed from the cache is restored with each caller's own values.
A call whose request holds none costs one scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PiiBlockedError
from ..guards import Finding
from ..reply import ChunkStream
from ..types import Chunk

if TYPE_CHECKING:
    from ..call import Call
    from ..config import PiiGuardConfig
    from ..reply import Reply
    from ..safety.pseudonymize import Pseudonymizer, StreamRestorer
    from ..types import ChatResponse, Message
    from .base import Handler

__all__ = ["PiiRedactionPolicy"]


class PiiRedactionPolicy:
    """``guards.pii`` on the calls it matches (by model, key and team)."""

    def __init__(self, settings: PiiGuardConfig) -> None:
        assert settings.mode != "off"
        self.mode: Literal["flag", "redact", "block"] = settings.mode
        self.kinds = list(settings.kinds) if settings.kinds is not None else None
        self.match = settings.match

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        if not self.match.applies_to(call):
            return await call_next(call)
        from ..safety.pseudonymize import Pseudonymizer  # the detectors load on first use

        pseudonyms = Pseudonymizer(self.kinds)
        request = call.request
        messages = [_pseudonymized(message, pseudonyms) for message in request.messages]
        user = pseudonyms.pseudonymize(request.user) if request.user else request.user
        kinds = pseudonyms.kinds
        if not kinds:
            return await call_next(call)
        call.options.setdefault("guards", []).append(
            Finding("pii", "pii", self.mode, f"personal data in the request: {', '.join(kinds)}")
        )
        if self.mode == "flag":
            return await call_next(call)
        if self.mode == "block":
            raise PiiBlockedError(
                f"the request carries personal data ({', '.join(kinds)}), which this gateway does not send "
                "to a provider; nothing was sent",
                kinds=kinds,
            )
        call.request = request.model_copy(
            update={"messages": messages, "user": user, "native": None, "native_format": None}
        )
        reply = await call_next(call)
        if isinstance(reply, ChunkStream):
            return ChunkStream(batches=_restored(reply, pseudonyms), model=request.model)
        return _restored_response(reply, pseudonyms)


def _pseudonymized(message: Message, pseudonyms: Pseudonymizer) -> Message:
    """``message`` with the personal data in its text and tool-call arguments replaced."""
    update: dict[str, Any] = {}
    content = message.content
    if isinstance(content, str):
        update["content"] = pseudonyms.pseudonymize(content)
    elif content:
        update["content"] = [
            part.model_copy(update={"text": pseudonyms.pseudonymize(part.text)}) if part.text else part
            for part in content
        ]
    if message.tool_calls:
        update["tool_calls"] = [
            call.model_copy(
                update={
                    "function": call.function.model_copy(
                        update={"arguments": pseudonyms.pseudonymize(call.function.arguments or "")}
                    )
                }
            )
            for call in message.tool_calls
        ]
    return message.model_copy(update=update) if update else message


def _restored_response(response: ChatResponse, pseudonyms: Pseudonymizer) -> ChatResponse:
    """A copy of ``response`` with the originals in place of the placeholders (a cached or shared
    answer is not changed for its other readers)."""
    restored = response.model_copy(deep=True)
    for choice in restored.choices:
        message = choice.message
        if isinstance(message.content, str):
            message.content = pseudonyms.restore(message.content)
        elif message.content:
            for part in message.content:
                if part.text:
                    part.text = pseudonyms.restore(part.text)
        refusal = getattr(message, "refusal", None)
        if isinstance(refusal, str):
            message.refusal = pseudonyms.restore(refusal)  # type: ignore[attr-defined]
        for tool_call in message.tool_calls or ():
            if tool_call.function.arguments:
                tool_call.function.arguments = pseudonyms.restore(tool_call.function.arguments)
    restored.native = None  # the provider's bytes hold the placeholders
    return restored


async def _restored(stream: ChunkStream, pseudonyms: Pseudonymizer) -> AsyncIterator[list[Chunk]]:
    """``stream``'s batches with the originals put back, a placeholder split across chunks too: the
    start of one is held back until the next chunk says how it ends (at the latest, the finish)."""
    from ..safety.pseudonymize import StreamRestorer

    restorers: dict[tuple[int, str, int], StreamRestorer] = {}

    def restorer(key: tuple[int, str, int]) -> StreamRestorer:
        found = restorers.get(key)
        if found is None:
            found = restorers[key] = StreamRestorer(pseudonyms)
        return found

    try:
        while True:
            try:
                batch = await stream.next_batch()
            except StopAsyncIteration:
                return
            yield [_restored_chunk(chunk, restorer, restorers) for chunk in batch]
    finally:
        await stream.aclose()


def _restored_chunk(chunk: Chunk, restorer: Any, restorers: dict[tuple[int, str, int], Any]) -> Chunk:
    if not chunk.has_choices:
        return chunk
    choices = []
    for index, delta, finish in chunk.deltas():
        delta = dict(delta)
        content = delta.get("content")
        if content:
            delta["content"] = restorer((index, "content", 0)).feed(content)
        if delta.get("tool_calls"):
            calls = []
            for position, tool_call in enumerate(delta["tool_calls"]):
                function = dict(tool_call.get("function") or {})
                if function.get("arguments"):
                    slot = tool_call.get("index", position)
                    function["arguments"] = restorer((index, "tool", slot)).feed(function["arguments"])
                calls.append({**tool_call, "function": function})
            delta["tool_calls"] = calls
        if finish:  # what was held back goes out with the finish
            held = restorers.pop((index, "content", 0), None)
            if held is not None:
                delta["content"] = (delta.get("content") or "") + held.flush()
            for key in [key for key in restorers if key[0] == index]:
                rest = restorers.pop(key).flush()
                if rest:
                    delta.setdefault("tool_calls", []).append(
                        {"index": key[2], "function": {"arguments": rest}}
                    )
        choices.append({"index": index, "delta": delta, "finish_reason": finish})
    return Chunk(
        id=chunk.id,
        created=chunk.created,
        model=chunk.model,
        choices=choices,
        usage=chunk.usage,
        upstream_request_id=chunk.upstream_request_id,
    )
