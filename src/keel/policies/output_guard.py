"""``OutputGuardPolicy``: what the client receives passes the output guards, complete or streamed.

It sits just inside the ledger (DESIGN "Wave 2"), so it sees the answer each caller gets — after the
cache, coalescing and validation — and the ledger records what it did. A complete answer is checked
whole; a stream is checked a batch at a time as it is delivered (``ChunkStream.inspect``): when a
``block`` guard fires, the chunks before the one that broke it go out, then the stream ends with
``OutputGuardError`` and its source is closed — an unshared upstream at once, a shared one for this
caller only. A ``flag`` guard records what it found (``call.options["guards"]``) and lets it through.
Neither says what the text was: findings name the guard and the kind of violation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import OutputGuardError
from ..reply import ChunkStream
from ..telemetry.logs import get_logger

if TYPE_CHECKING:
    from ..call import Call
    from ..guards import Finding, OutputGuard
    from ..guards.output import TextScanner
    from ..reply import Reply
    from ..types import ChatResponse, Chunk
    from .base import Handler

__all__ = ["GuardWatch", "OutputGuardPolicy", "answer_texts"]

log = get_logger("keel.guards")


class OutputGuardPolicy:
    """Checks answers against the guards that apply to the call (by model, key and team)."""

    def __init__(self, guards: Sequence[OutputGuard]) -> None:
        self.guards = list(guards)

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        options = call.options
        model, key_id, team = call.request.model, options.get("key_id"), options.get("team")
        chosen = [guard for guard in self.guards if guard.applies(model, key_id, team)]
        if not chosen:
            return await call_next(call)
        request = call.request  # the caller's own: what a PII guard does not count as a leak
        reply = await call_next(call)
        return GuardWatch(call, [guard.scanner(request) for guard in chosen]).watch(reply)


class GuardWatch:
    """One call's scanners; the first ``block`` finding becomes the error that ends the answer."""

    __slots__ = ("call", "error", "scanners")

    def __init__(self, call: Call, scanners: Sequence[TextScanner]) -> None:
        self.call = call
        self.scanners = scanners
        self.error: BaseException | None = None  # an OutputGuardError once a block guard fires

    def watch(self, reply: Reply) -> Reply:
        """``reply`` under watch: a stream checked as it is delivered; a complete answer now.

        Raises:
            OutputGuardError: a complete answer a ``block`` guard stops.
        """
        if isinstance(reply, ChunkStream):
            reply.inspect(self)
            return reply
        for text in answer_texts(reply):
            self.feed(text)
            if self.error is not None:
                raise self.error
        return reply

    def check(self, batch: list[Chunk]) -> int | None:
        """The index of the first chunk of ``batch`` a ``block`` guard stops, or None."""
        scanners = self.scanners
        for index, chunk in enumerate(batch):
            text = chunk.text
            if not text and chunk.has_choices:
                text = "".join(arguments for _, _, arguments in chunk.tool_argument_deltas())
                if not text and chunk.finishes():
                    for scanner in scanners:
                        if self._judged(scanner.finish()):
                            return index
                    continue
            if not text:
                continue
            for scanner in scanners:
                finding = scanner.feed(text)
                if finding is not None and self._judged(finding):
                    return index
        return None

    def feed(self, text: str) -> None:
        """One whole text of a complete answer."""
        for scanner in self.scanners:
            if self._judged(scanner.feed(text)) or self._judged(scanner.finish()):
                return

    def _judged(self, finding: Finding | None) -> bool:
        """Records ``finding``; whether it stops the answer."""
        if finding is None:
            return False
        self._found(finding)
        return self.error is not None

    def _found(self, finding: Finding) -> None:
        self.call.options.setdefault("guards", []).append(finding)
        log.info(
            "output guard fired",
            request_id=self.call.request_id,
            guard=finding.guard,
            kind=finding.kind,
            mode=finding.mode,
        )
        if finding.mode == "block":
            self.error = OutputGuardError(
                f"the answer was stopped by the output guard {finding.guard!r}: {finding.reason}",
                guard=finding.guard,
                kind=finding.kind,
            )


def answer_texts(response: ChatResponse) -> list[str]:
    """Every text of a complete answer a client reads: content, refusals and tool-call arguments."""
    texts: list[str] = []
    for choice in response.choices:
        message = choice.message
        if text := message.text():
            texts.append(text)
        if refusal := (message.model_extra or {}).get("refusal"):  # (getattr would raise inside)
            texts.append(refusal)
        for tool_call in message.tool_calls or ():
            if tool_call.function.arguments:
                texts.append(tool_call.function.arguments)
    return texts
