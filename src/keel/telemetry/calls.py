"""Per-call metrics, from the one ledger record each call leaves: nothing is observed per chunk.

The label children of a call's metrics are looked up once per label set and kept, so observing a
call is a handful of dictionary lookups and increments. Labels fed by what callers send (the model
and route names — a client may name ``provider/model`` itself —, the key id, the team) are bounded
(``BoundedValues``); a model that never resolved to a route is ``unresolved``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bounded import BoundedValues, set_ceiling
from .metrics import (
    attempts,
    cost_usd,
    fallbacks,
    guards,
    in_flight_calls,
    in_flight_streams,
    request_duration,
    structured_outputs,
    structured_reasks,
    time_to_first_token,
    tokens,
)

if TYPE_CHECKING:
    from ..config import MetricsConfig
    from ..ledger import LedgerRecord

__all__ = ["call_ended", "call_started", "configure", "routes", "stream_ended", "stream_started"]

_TOKEN_TYPES = (
    ("input", "input_tokens"),
    ("cached_input", "cached_input_tokens"),
    ("cache_write", "cache_write_tokens"),
    ("output", "output_tokens"),
    ("reasoning", "reasoning_tokens"),
)

_models = BoundedValues()
routes = BoundedValues()
_keys = BoundedValues()
_teams = BoundedValues()
_children: dict[tuple[Any, ...], Any] = {}


def configure(settings: MetricsConfig) -> None:
    """Apply the process-wide parts of ``settings`` (the label ceiling)."""
    set_ceiling(settings.max_label_values)


def call_started() -> None:
    in_flight_calls.inc()


def stream_started() -> None:
    in_flight_streams.inc()


def stream_ended() -> None:
    in_flight_streams.dec()


def call_ended(record: LedgerRecord, settings: MetricsConfig) -> None:
    """Observe a finished call: its duration, time to first token, tokens, cost and attempts."""
    in_flight_calls.dec()
    resolved = record.status == "ok" or bool(record.attempts)
    model = _models(record.requested_model) if resolved else "unresolved"
    if record.route:
        route = routes(record.route)
    else:
        route = "cache" if record.cache_hit else "coalesced" if record.coalesced else "none"
    status = record.status
    _child(request_duration, (model, route, status, "true" if record.stream else "false")).observe(
        record.latency_ms / 1000
    )
    if record.ttft_ms is not None:
        _child(time_to_first_token, (model, route, status)).observe(record.ttft_ms / 1000)
    if record.input_tokens or record.output_tokens:
        labels = settings.labels
        key = _keys(record.key_id) if "key" in labels and record.key_id else ""
        team = _teams(record.team) if "team" in labels and record.team else ""
        for kind, field in _TOKEN_TYPES:
            count = getattr(record, field)
            if count:
                _child(tokens, (model, route, kind, key, team)).inc(count)
        if record.cost_usd:
            _child(cost_usd, (model, route, key, team)).inc(float(record.cost_usd))
    if record.validation is not None:
        reasks = record.reasks or 0
        outcome = "reasked" if reasks and record.validation in ("valid", "repaired") else record.validation
        _child(structured_outputs, (model, outcome)).inc()
        if reasks:
            _child(structured_reasks, (model,)).inc(reasks)
    if record.guards:
        for said in record.guards.split(","):
            guard, _, mode = said.rpartition("=")
            _child(guards, (guard, mode)).inc()
    previous = None
    for attempt in record.attempts:
        reason = attempt.get("reason", "first")
        tried = routes(attempt["route"])
        _child(attempts, (tried, attempt["outcome"], reason)).inc()
        if reason == "fallback" and previous is not None:
            _child(fallbacks, (previous, tried)).inc()
        previous = tried


def _child(metric: Any, labels: tuple[str, ...]) -> Any:
    """``metric.labels(*labels)``, looked up once per label set."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child
