"""Structured access logs: one ``keel.access`` line per request, without headers, keys or bodies.

A streamed response is logged when its stream ends, with how it ended (``completed``, ``failed``,
``cancelled``), so the line's duration is the whole exchange's.
"""

from __future__ import annotations

import logging
import time

from ..telemetry.logs import get_logger
from .exchange import Exchange

__all__ = ["log_access"]

log = get_logger("keel.access")
_std = logging.getLogger("keel.access")


def log_access(ex: Exchange) -> None:
    """Log the finished exchange at INFO (a 5xx at WARNING)."""
    level = logging.WARNING if ex.status >= 500 else logging.INFO
    if not _std.isEnabledFor(level):
        return  # the cheap exit on the hot path when access logs are off
    fields = {
        "method": ex.method,
        "path": ex.path,
        "status": ex.status,
        "duration_ms": round((time.perf_counter() - ex.received_at) * 1000, 3),
        "request_id": ex.request_id,
    }
    if ex.overhead_ms is not None:
        fields["overhead_ms"] = round(ex.overhead_ms, 3)
    if ex.call is not None:
        fields["model"] = ex.call.request.model
        fields["attempts"] = ex.attempts
    if ex.route:
        fields["route"] = ex.route
    if ex.upstream_request_id:
        fields["upstream_request_id"] = ex.upstream_request_id
    if ex.outcome:
        fields["outcome"] = ex.outcome
    if level == logging.WARNING:
        log.warning("request", **fields)
    else:
        log.info("request", **fields)
