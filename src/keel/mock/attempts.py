"""The record of every request the mock received, and the per-model counters behaviours keep."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

__all__ = ["AttemptLog"]

_KEPT_HEADERS = (
    "user-agent",
    "x-request-id",
    "anthropic-version",
    "anthropic-beta",
    "traceparent",
    "tracestate",
)


class AttemptLog:
    """Thread-safe list of attempt records plus per-model-name request counts and first-seen times.

    The event loop thread writes; any thread may read a snapshot or clear everything. Only the
    newest ``limit`` records are kept, so a long-running mock (a benchmark's upstream) stays small.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0
        self._counts: dict[str, int] = {}
        self._first_seen: dict[str, float] = {}

    def record(
        self,
        *,
        model: str | None,
        behaviour: str | None,
        stream: bool,
        body: Any,
        headers: Any,
        request_id: str,
        format: str = "openai",
    ) -> dict[str, Any]:
        """Add a record for a request just received (outcome ``pending``) and return it; ``format`` is
        the wire format it came in (``openai`` or ``anthropic``)."""
        messages = body.get("messages") if isinstance(body, dict) else None
        messages = messages if isinstance(messages, list) else []
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        entry: dict[str, Any] = {
            "seq": 0,
            "time": time.time(),
            "monotonic": time.monotonic(),
            "model": model,
            "behaviour": behaviour,
            "format": format,
            "stream": stream,
            "outcome": "pending",
            "messages_count": len(messages),
            "last_role": last.get("role"),
            "request_id": request_id,
            "headers": {name: headers[name] for name in _KEPT_HEADERS if name in headers},
            "body": body,
            "closed_at": None,
            "ended_at": None,
            "chunks_sent": 0,
        }
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._records.append(entry)
        return entry

    def update(self, entry: dict[str, Any], **fields: Any) -> None:
        """Change fields of a record (outcome, closed_at, ended_at) under the lock."""
        with self._lock:
            entry.update(fields)

    def sent(self, entry: dict[str, Any]) -> None:
        """Count one more stream frame written for a record's reply (``chunks_sent``)."""
        with self._lock:
            entry["chunks_sent"] += 1

    def count(self, model: str) -> int:
        """Count one more request for ``model`` and return the new count (1 for the first)."""
        with self._lock:
            self._counts[model] = self._counts.get(model, 0) + 1
            return self._counts[model]

    def first_seen(self, model: str) -> float:
        """Monotonic time of the first request for ``model`` since the last clear."""
        with self._lock:
            return self._first_seen.setdefault(model, time.monotonic())

    def snapshot(self, model: str | None = None, behaviour: str | None = None) -> list[dict[str, Any]]:
        """Copies of the records, oldest first, optionally only one exact model name or behaviour."""
        with self._lock:
            return [
                {**entry, "headers": dict(entry["headers"])}
                for entry in self._records
                if (model is None or entry["model"] == model)
                and (behaviour is None or entry["behaviour"] == behaviour)
            ]

    def clear(self) -> None:
        """Forget all records, counters and first-seen times."""
        with self._lock:
            self._records.clear()
            self._seq = 0
            self._counts.clear()
            self._first_seen.clear()
