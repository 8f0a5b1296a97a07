"""``LedgerPolicy``: every call that reaches the gateway leaves one ledger record, however it ends.

The record is also what the per-call metrics are observed from (``telemetry.calls``), and what the
call's observers (its trace span and call log line, ``telemetry.observers``) end with, so a call
costs telemetry a few increments when it ends and nothing per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import KeelError, LedgerUnavailableError, StreamInterruptedError
from ..ledger import LedgerRecord, LedgerWriter, record_of
from ..reply import ChunkStream, StreamEnd
from ..telemetry import calls

if TYPE_CHECKING:
    from ..call import Call
    from ..config import MetricsConfig
    from ..reply import Reply
    from ..telemetry.capture import ContentCapture
    from ..telemetry.observers import CallObserver
    from ..types import ChatResponse
    from .base import Handler

__all__ = ["LedgerPolicy"]


def _status(error: BaseException) -> str:
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    cause = error.__cause__
    if isinstance(error, StreamInterruptedError) and isinstance(cause, KeelError) and cause.keel_code:
        return cause.code or type(cause).__name__  # Keel's own refusal mid-stream (a guard, a schema)
    if isinstance(error, KeelError):
        return error.code or type(error).__name__
    return "error"


class LedgerPolicy:
    """The outermost policy: records the call when its answer is complete, failed or abandoned.

    With batched durability an answered call's record is made just after the answer has gone
    (``LedgerWriter.add_soon``): its making costs the event loop the same, but not the caller's
    latency. A failed call's record is made at once. Without a writer (``ledger.enabled: false``)
    the record is made for the metrics alone; with ``metrics.enabled: false`` it is not observed.
    With ``capture`` (``capture.content``) the record carries the call's redacted content, made
    with the record, before the observers (the span) see it.
    """

    def __init__(
        self,
        writer: LedgerWriter | None,
        metrics: MetricsConfig | None = None,
        observers: Sequence[CallObserver] = (),
        capture: ContentCapture | None = None,
    ) -> None:
        self.writer = writer
        self.capture = capture
        self.metrics = metrics if metrics is not None and metrics.enabled else None
        self.observers = tuple(observers)
        if self.metrics is not None:
            calls.configure(self.metrics)

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        if self.metrics is not None:
            calls.call_started()
        for observer in self.observers:
            observer.call_started(call)
        try:
            reply = await call_next(call)
        except BaseException as error:
            record = self._observed(call, record_of(call, status=_status(error), error=error))
            with contextlib.suppress(
                LedgerUnavailableError
            ):  # queued all the same: the call's own error wins
                await self._add(record)
            raise
        if isinstance(reply, ChunkStream):
            if self.metrics is not None:
                calls.stream_started()

            async def ended(end: StreamEnd) -> None:
                status = (
                    "ok"
                    if end.status == "completed"
                    else ("cancelled" if end.status == "cancelled" else _status(end.error or Exception()))
                )
                if self.metrics is not None:
                    calls.stream_ended()
                await self._record(
                    lambda: self._observed(
                        call,
                        record_of(call, status=status, response=end.response, error=end.error),
                        end.response,
                    )
                )

            reply.on_end(ended)
        else:
            await self._record(
                lambda: self._observed(call, record_of(call, status="ok", response=reply), reply)
            )
        return reply

    def _observed(
        self, call: Call, record: LedgerRecord, response: ChatResponse | None = None
    ) -> LedgerRecord:
        if self.capture is not None:
            record.content = self.capture(call, response)
        if self.metrics is not None:
            calls.call_ended(record, self.metrics)
        for observer in self.observers:
            observer.call_ended(call, record, response)
        return record

    async def _add(self, record: LedgerRecord) -> None:
        if self.writer is not None:
            await self.writer.add(record)

    async def _record(self, make: Callable[[], LedgerRecord]) -> None:
        """The record of an answered call: made after the answer has gone when the writer allows
        (batched), else now — ``strict`` returns only once it is stored."""
        if self.writer is None:
            make()
        elif self.writer.defers:
            self.writer.add_soon(make)
        else:
            await self.writer.add(make())
