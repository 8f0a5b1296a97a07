"""The W3C trace context an upstream request carries: the client's ``traceparent``, or the attempt's span.

Nothing here imports OpenTelemetry: ``keel serve`` passes a client's valid ``traceparent`` (and
``tracestate``) on to the upstream even with tracing off; with tracing on, each attempt's span
replaces it with its own, so the upstream's spans hang under the attempt that called it. The value
travels in a context variable set in the call's task, read by the one function that posts upstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar

__all__ = ["send_upstream", "trace_context", "with_trace_context"]

_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")

_upstream: ContextVar[Mapping[str, str] | None] = ContextVar("keel_upstream_trace_context", default=None)


def trace_context(headers: Mapping[str, str]) -> dict[str, str]:
    """The valid W3C trace context among a client's (lower-cased) ``headers``; empty when none."""
    parent = headers.get("traceparent", "").strip().lower()
    if not _TRACEPARENT.fullmatch(parent):
        return {}
    found = {"traceparent": parent}
    state = headers.get("tracestate", "").strip()
    if state and _TRACESTATE.fullmatch(state):
        found["tracestate"] = state
    return found


def send_upstream(context: Mapping[str, str] | None) -> None:
    """Make ``context`` (``traceparent``, maybe ``tracestate``) the trace headers of the upstream
    requests this task makes from now on; None: none."""
    _upstream.set(context or None)


def with_trace_context(headers: Mapping[str, str]) -> Mapping[str, str]:
    """``headers`` with the current trace context's, when there is one (the common case: none)."""
    extra = _upstream.get()
    return {**headers, **extra} if extra else headers
