"""Prometheus metrics: one registry per process, labels that never carry a secret or a prompt."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["REGISTRY", "budget_alerts"]

REGISTRY = CollectorRegistry(auto_describe=True)

budget_alerts = Counter(
    "keel_budget_alerts",
    "Budget thresholds crossed, once per budget, threshold and window.",
    ["budget", "threshold"],
    registry=REGISTRY,
)
