"""Prometheus metrics: one registry per process, labels that never carry a secret or a prompt."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["REGISTRY", "budget_alerts", "cache_bytes", "cache_lookups", "coalesced_calls", "config_reloads"]

REGISTRY = CollectorRegistry(auto_describe=True)

budget_alerts = Counter(
    "keel_budget_alerts",
    "Budget thresholds crossed, once per budget, threshold and window.",
    ["budget", "threshold"],
    registry=REGISTRY,
)

cache_lookups = Counter(
    "keel_cache_lookups",
    "Response cache lookups by result: hit, semantic_hit, miss, or error (a failed backend: a miss).",
    ["result"],
    registry=REGISTRY,
)

cache_bytes = Counter(
    "keel_cache_bytes",
    "Bytes of cache entries stored and served.",
    ["direction"],
    registry=REGISTRY,
)

coalesced_calls = Counter(
    "keel_coalesced_calls",
    "Calls that shared another's upstream call: in this process (local) or another replica's (remote).",
    ["source"],
    registry=REGISTRY,
)

config_reloads = Counter(
    "keel_config_reloads",
    "Config reloads by result: applied, unchanged, or refused (invalid, or a key that needs a restart).",
    ["result"],
    registry=REGISTRY,
)
