"""Structured access logs: one ``keel.access`` line per request, without headers, keys or bodies.

A streamed response is logged when its stream ends, with how it ended (``completed``, ``failed``,
``cancelled``), so the line's duration is the whole exchange's. A stream continued on another route
after its headers were sent names the finishing route and every attempt, as the ledger does, and
in ``continued_from`` the route its headers named.

The line has the shape of every other Keel log line (``event='request' key=value …``, keys sorted,
values as ``repr``; ``pid`` names the worker process) but is written straight into a ``LogRecord``:
it is the one line per request, and structlog's processor chain plus the stdlib's caller lookup cost
more than the rest of the request's bookkeeping. Key-shaped strings are masked in it as everywhere
else.
"""

from __future__ import annotations

import logging
import os
import time

import orjson

from ..telemetry.call_log import utc_now
from ..telemetry.logs import json_lines, mask_secret_values
from .exchange import Exchange

__all__ = ["log_access"]

_std = logging.getLogger("keel.access")

_pid = os.getpid()  # which worker served the request (``--workers N``)


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def log_access(ex: Exchange) -> None:
    """Log the finished exchange at INFO (a 5xx at WARNING)."""
    level = logging.WARNING if ex.status >= 500 else logging.INFO
    if not _std.isEnabledFor(level):
        return  # the cheap exit on the hot path when access logs are off
    if json_lines():
        _log_json(ex, level)
        return
    parts = ["event='request'"]
    if ex.call is not None:
        parts.append(f"attempts={ex.attempts}")
    if ex.continued_from:
        parts.append(f"continued_from={ex.continued_from!r}")
    parts.append(f"duration_ms={round((time.perf_counter() - ex.received_at) * 1000, 3)!r}")
    parts.append(f"method={ex.method!r}")
    if ex.call is not None:
        parts.append(f"model={ex.call.request.model!r}")
    if ex.outcome:
        parts.append(f"outcome={ex.outcome!r}")
    if ex.overhead_ms is not None:
        parts.append(f"overhead_ms={round(ex.overhead_ms, 3)!r}")
    parts.append(f"path={ex.path!r}")
    parts.append(f"pid={_pid!r}")
    parts.append(f"request_id={ex.request_id!r}")
    if ex.route:
        parts.append(f"route={ex.route!r}")
    parts.append(f"status={ex.status!r}")
    if ex.upstream_request_id:
        parts.append(f"upstream_request_id={ex.upstream_request_id!r}")
    record = _std.makeRecord(_std.name, level, __file__, 0, mask_secret_values(" ".join(parts)), (), None)
    _std.handle(record)


def _log_json(ex: Exchange, level: int) -> None:
    """The access line as one JSON object (``logging.format: json``)."""
    fields = {
        "event": "request",
        "level": logging.getLevelName(level).lower(),
        "logger": _std.name,
        "timestamp": utc_now(),
        "method": ex.method,
        "path": ex.path,
        "status": ex.status,
        "duration_ms": round((time.perf_counter() - ex.received_at) * 1000, 3),
        "pid": _pid,
        "request_id": ex.request_id,
        "outcome": ex.outcome,
        "overhead_ms": round(ex.overhead_ms, 3) if ex.overhead_ms is not None else None,
    }
    if ex.call is not None:
        fields.update(attempts=ex.attempts, model=ex.call.request.model)
    if ex.route:
        fields["route"] = ex.route
    if ex.continued_from:
        fields["continued_from"] = ex.continued_from
    if ex.upstream_request_id:
        fields["upstream_request_id"] = ex.upstream_request_id
    message = mask_secret_values(orjson.dumps(fields).decode())
    _std.handle(_std.makeRecord(_std.name, level, __file__, 0, message, (), None))
