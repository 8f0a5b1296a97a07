"""``call_observers``: what watches each call start and end besides the metrics — traces and call logs;
and ``content_capture``, what the call's record carries of its text when the operator asks.

An observer has ``call_started(call)`` and ``call_ended(call, record, response)``; the ledger policy
calls them around every call, with the call's one ledger record at its end. The tracing modules
(and OpenTelemetry) are imported only when ``tracing.enabled``, the capture (and the PII detectors)
only when ``capture.content``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .call_log import CallLog
from .logs import set_format

if TYPE_CHECKING:
    from ..call import Call
    from ..config import CaptureConfig, Config
    from ..ledger import LedgerRecord
    from ..types import ChatResponse
    from .capture import ContentCapture
    from .otel import Otel

__all__ = ["CallObserver", "call_observers", "content_capture"]


class CallObserver(Protocol):
    """Told when a call starts and, with its ledger record, when it ends."""

    def call_started(self, call: Call) -> None: ...

    def call_ended(self, call: Call, record: LedgerRecord, response: ChatResponse | None) -> None: ...


def call_observers(config: Config, otel: Otel | None) -> list[CallObserver]:
    """The tracer (when ``otel`` is given) and the call log, in that order: the log line then
    carries the ids of a span that has ended."""
    set_format(config.logging.format)
    observers: list[Any] = []
    ids = None
    if otel is not None:
        from .genai import GenAIInstruments
        from .tracing import CallTracer, span_ids

        instruments = GenAIInstruments(otel.meter) if otel.meter is not None else None
        observers.append(CallTracer(otel.tracer, instruments))
        ids = span_ids
    if config.logging.calls != "off":
        observers.append(CallLog(config.logging, ids))
    return observers


def content_capture(settings: CaptureConfig) -> ContentCapture | None:
    """The capture of each call's redacted content when ``capture.content`` is on; else None (and
    nothing of it is imported)."""
    if not settings.content:
        return None
    from .capture import ContentCapture

    return ContentCapture(settings)
