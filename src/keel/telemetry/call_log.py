"""``CallLog``: one ``keel.calls`` event per call when it ends, from the call's one ledger record.

``llm_request_complete`` (at ``logging.calls``, a ``logging.sample_rate`` share of them) or
``llm_request_failed`` (every one, at least at WARNING); ``llm_request_start`` only at DEBUG. The
event names the call (request id, key id, team, model, route), its attempts with their reasons and
outcomes, tokens by type (``usage``), cost, latency, time to first token, cache and coalescing, and its trace
and span ids when it is traced. Never a prompt, a completion, a header, an error message from
upstream (which may quote the prompt) or the caller's ``user``.

The end event is rendered straight into a ``LogRecord`` (as the access log is), in the shape
structlog gives every other line — ``event='…' key=value …`` sorted, or with ``logging.format:
json`` the JSON renderer's object with ``timestamp``, ``level`` and ``logger`` — because it is
written once per call and structlog's processor chain would cost more than the rest of its
bookkeeping. Key-shaped strings are masked in it as everywhere else.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .logs import get_logger, json_lines, mask_secret_values

if TYPE_CHECKING:
    from ..call import Call
    from ..config import LoggingConfig
    from ..ledger import LedgerRecord
    from ..types import ChatResponse

__all__ = ["CallLog", "call_fields", "render", "utc_now"]

_std = logging.getLogger("keel.calls")
log = get_logger("keel.calls")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class CallLog:
    """Logs the calls it sees as ``settings`` say; ``span_ids`` gives a traced call's ids."""

    def __init__(self, settings: LoggingConfig, span_ids: Any = None) -> None:
        self.level = _LEVELS.get(settings.calls, 0)
        self.failed_level = max(self.level, logging.WARNING) if self.level else 0
        self.sample_rate = settings.sample_rate
        self.span_ids = span_ids

    def call_started(self, call: Call) -> None:
        if _std.isEnabledFor(logging.DEBUG):
            log.debug(
                "llm_request_start",
                request_id=call.request_id,
                model=call.request.model,
                stream=call.stream,
                key_id=call.options.get("key_id"),
                team=call.options.get("team"),
            )

    def call_ended(self, call: Call, record: LedgerRecord, response: ChatResponse | None) -> None:
        if record.status == "ok":
            if not self.level or not _std.isEnabledFor(self.level):
                return  # the cheap exit: call logs off, or below the logger's level
            if self.sample_rate < 1 and random.random() >= self.sample_rate:
                return
            level, event = self.level, "llm_request_complete"
        else:
            level, event = self.failed_level, "llm_request_failed"
            if not level or not _std.isEnabledFor(level):
                return
        fields = call_fields(record)
        ids = self.span_ids(call) if self.span_ids is not None else None
        if ids is not None:
            fields["trace_id"], fields["span_id"] = ids
        line = mask_secret_values(render(event, level, fields))
        _std.handle(_std.makeRecord(_std.name, level, __file__, 0, line, (), None))


def render(event: str, level: int, fields: dict[str, Any]) -> str:
    """One line as Keel's structlog chain would render it: ``key=value`` or a JSON object."""
    if json_lines():
        extra = {"event": event, "timestamp": utc_now(), "level": logging.getLevelName(level).lower()}
        return orjson.dumps({**fields, **extra, "logger": _std.name}, default=str).decode()
    return " ".join([f"event={event!r}", *(f"{key}={fields[key]!r}" for key in sorted(fields))])


def utc_now() -> str:
    """Now as structlog's ``TimeStamper(fmt="iso", utc=True)`` writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def call_fields(record: LedgerRecord) -> dict[str, Any]:
    """The call log's fields from a ledger record: nothing the caller wrote, nothing secret."""
    fields: dict[str, Any] = {
        "request_id": record.request_id,
        "key_id": record.key_id,
        "team": record.team,
        "model": record.requested_model,
        "response_model": record.model,
        "route": record.route,
        "status": record.status,
        "stream": record.stream,
        "attempts": [
            {
                "route": attempt["route"],
                "reason": attempt.get("reason", "first"),
                "outcome": attempt["outcome"],
                **({"status": attempt["status"]} if attempt.get("status") else {}),
                "duration_ms": round(attempt.get("duration_s", 0.0) * 1000, 3),
            }
            for attempt in record.attempts
        ],
        "usage": {
            "input": record.input_tokens,
            "cached_input": record.cached_input_tokens,
            "cache_write": record.cache_write_tokens,
            "output": record.output_tokens,
            "reasoning": record.reasoning_tokens,
        },
        "cost_usd": str(record.cost_usd),
        "latency_ms": round(record.latency_ms, 3),
        "ttft_ms": round(record.ttft_ms, 3) if record.ttft_ms is not None else None,
        "cache_hit": record.cache_hit,
        "coalesced": record.coalesced,
    }
    if record.validation is not None:
        fields["validation"], fields["reasks"] = record.validation, record.reasks or 0
    if record.guards:
        fields["guards"] = record.guards
    return fields
