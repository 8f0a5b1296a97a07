"""``CallTracer``: one OpenTelemetry span per call, a child span per attempt, the GenAI attributes.

The call's span starts with the call (under the client's ``traceparent``, or the application's
current span) and ends from the call's one ledger record; each attempt's span is started and ended
by the attempt listeners, which also send the attempt's ``traceparent`` upstream and record the
GenAI client instruments. Nothing is done per chunk, and no key or header is ever an attribute
(docs/observability.md lists every one); prompt and completion text only with ``capture.content``,
as the ledger record carries it — redacted — in the conventions' three content attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from . import genai
from .propagation import send_upstream

if TYPE_CHECKING:
    from ..call import Call
    from ..ledger import LedgerRecord
    from ..route import Route
    from ..types import Attempt, ChatResponse
    from .genai import GenAIInstruments

__all__ = ["CallTracer", "span_ids"]

_KEY = "_trace"  # the call's spans, in ``call.options``


@dataclass(eq=False)
class _Spans:
    call: Any
    context: Any  # the call span as a parent
    attempts: dict[int, tuple[Any, str]] = field(default_factory=dict)  # id(attempt) -> span, provider


class CallTracer:
    """Spans for every call through the stack, on ``tracer``; the two GenAI histograms on
    ``instruments`` when given."""

    def __init__(self, tracer: Any, instruments: GenAIInstruments | None = None) -> None:
        self.tracer = tracer
        self.instruments = instruments

    def call_started(self, call: Call) -> None:
        carrier = call.options.get("trace_context")
        span = self.tracer.start_span(
            f"chat {call.request.model}",
            context=extract(carrier) if carrier else None,
            kind=SpanKind.INTERNAL,
            start_time=_ns(call.started_at),
            attributes={
                genai.OPERATION: "chat",
                genai.REQUEST_MODEL: call.request.model,
                "keel.request_id": call.request_id,
                "keel.stream": call.stream,
            },
        )
        call.options[_KEY] = _Spans(span, set_span_in_context(span))
        call.listeners.append(self)

    async def attempt_started(self, call: Call, route: Route, attempt: Attempt) -> None:
        spans: _Spans = call.options[_KEY]
        provider = genai.provider_name(route.provider)
        span = self.tracer.start_span(
            f"chat {route.upstream_model}",
            context=spans.context,
            kind=SpanKind.CLIENT,
            start_time=_ns(attempt.started_at),
            attributes={
                genai.OPERATION: "chat",
                genai.PROVIDER: provider,
                genai.SYSTEM: provider,
                genai.REQUEST_MODEL: route.upstream_model,
                "keel.route": route.name,
                "keel.attempt.number": len(call.attempts),
                "keel.attempt.reason": attempt.reason,
            },
        )
        spans.attempts[id(attempt)] = (span, provider)
        context = span.get_span_context()
        sent = {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"}
        if context.trace_state:
            sent["tracestate"] = context.trace_state.to_header()
        send_upstream(sent)

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None:
        spans: _Spans | None = call.options.get(_KEY)
        entry = spans.attempts.pop(id(attempt), None) if spans is not None else None
        if entry is None:
            return
        span, provider = entry
        _end_attempt(span, attempt)
        if self.instruments is not None:
            self.instruments.record(attempt, provider)

    def call_ended(self, call: Call, record: LedgerRecord, response: ChatResponse | None) -> None:
        spans: _Spans | None = call.options.get(_KEY)
        if spans is None:
            return
        for span, _ in spans.attempts.values():  # refused by a later listener (a budget): never sent
            span.set_attribute("keel.attempt.outcome", "refused")
            span.set_status(Status(StatusCode.ERROR))
            span.end()
        spans.attempts.clear()
        span = spans.call
        if span.is_recording():
            span.set_attributes(_call_attributes(call, record, response))
            if record.status != "ok":
                span.set_attribute(genai.ERROR_TYPE, record.status)
                span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=_ns(record.started_at + record.latency_ms / 1000))


def span_ids(call: Call) -> tuple[str, str] | None:
    """The call span's trace and span ids in hex, for the call's log line; None when untraced."""
    spans: _Spans | None = call.options.get(_KEY)
    if spans is None:
        return None
    context = spans.call.get_span_context()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def _end_attempt(span: Any, attempt: Attempt) -> None:
    if span.is_recording():
        found: dict[str, Any] = {"keel.attempt.outcome": attempt.outcome}
        if attempt.status is not None:
            found["http.response.status_code"] = attempt.status
        usage = attempt.usage
        if usage is not None:
            found[genai.INPUT_TOKENS] = usage.input_tokens
            found[genai.OUTPUT_TOKENS] = usage.output_tokens
        if attempt.cost is not None:
            found["keel.cost_usd"] = float(attempt.cost)
        if attempt.upstream_request_id:
            found["gen_ai.response.id"] = attempt.upstream_request_id
        error = genai.error_type(attempt)
        if error is not None:
            found[genai.ERROR_TYPE] = error
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(found)
    span.end(end_time=_ns(attempt.started_at + attempt.duration_s) if attempt.duration_s else None)


def _call_attributes(call: Call, record: LedgerRecord, response: ChatResponse | None) -> dict[str, Any]:
    """What the call's span says once the call is over, from its ledger record."""
    found: dict[str, Any] = {
        "keel.status": record.status,
        "keel.attempts": len(record.attempts),
        "keel.cache.hit": record.cache_hit,
        "keel.coalesced": record.coalesced,
        genai.INPUT_TOKENS: record.input_tokens,
        genai.OUTPUT_TOKENS: record.output_tokens,
        "keel.cost_usd": float(record.cost_usd),
    }
    for name, count in (
        ("keel.usage.cached_input_tokens", record.cached_input_tokens),
        ("keel.usage.cache_write_tokens", record.cache_write_tokens),
        ("keel.usage.reasoning_tokens", record.reasoning_tokens),
    ):
        if count:  # the other token classes, when the call had any
            found[name] = count
    if record.route:
        found["keel.route"] = record.route
    if record.model:
        found[genai.RESPONSE_MODEL] = record.model
    if record.ttft_ms is not None:
        found["keel.ttft_ms"] = record.ttft_ms
    if record.key_id:
        found["keel.key_id"] = record.key_id
    if record.team:
        found["keel.team"] = record.team
    if record.prompt:  # a named, versioned prompt
        found["keel.prompt.name"] = record.prompt
        if record.prompt_version is not None:
            found["keel.prompt.version"] = record.prompt_version
        if record.variant:
            found["keel.prompt.variant"] = record.variant
    if record.validation is not None:
        found["keel.validation"] = record.validation
        found["keel.reasks"] = record.reasks or 0
    if record.guards:
        found["keel.guards"] = record.guards
    for option, name in (
        ("budget_remaining_usd", "keel.budget.remaining_usd"),
        ("budget_remaining_tokens", "keel.budget.remaining_tokens"),
    ):
        value = call.options.get(option)
        if value is not None:
            found[name] = float(value)
    if record.content is not None:  # capture.content: redacted when the record was made
        found[genai.SYSTEM_INSTRUCTIONS] = orjson.dumps(record.content["system"]).decode()
        found[genai.INPUT_MESSAGES] = orjson.dumps(record.content["input"]).decode()
        if record.content["output"] is not None:
            found[genai.OUTPUT_MESSAGES] = orjson.dumps(record.content["output"]).decode()
    if response is not None:
        reasons = [choice.finish_reason for choice in response.choices if choice.finish_reason]
        if reasons:
            found[genai.FINISH_REASONS] = reasons
        if response.id:
            found["gen_ai.response.id"] = response.id
    return found


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
