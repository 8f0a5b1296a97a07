"""A rollout rule judged on ledger rows: limits as written, and "no worse than the other version by
X %" — which needs a significant difference for rates, and both sides at ``min_calls``."""

from __future__ import annotations

from typing import Any

from keel.config import PromptGuardConfig
from keel.prompts.guard import breaches


def rows(calls: int, errors: int = 0, latency_ms: float = 100.0, cost: str = "0.001") -> list[dict[str, Any]]:
    return [
        {"status": "error" if i < errors else "ok", "latency_ms": latency_ms, "cost_usd": cost}
        for i in range(calls)
    ]


def rule(**fields: Any) -> PromptGuardConfig:
    return PromptGuardConfig(prompt="p", min_calls=200, **fields)


def test_absolute_limits_wait_for_min_calls() -> None:
    assert breaches(rule(max_error_rate=0.05), rows(199, errors=100)) == []
    [broken] = breaches(rule(max_error_rate=0.05), rows(200, errors=40))
    assert broken.startswith("error rate 20.0%")


def test_no_worse_than_the_other_version_by_a_margin() -> None:
    relative = rule(max_worse_pct=10)
    [broken] = breaches(relative, rows(300, errors=60), rows(300, errors=6))  # 20 % against 2 %
    assert "against 2.0% for the other version(s)" in broken
    assert breaches(relative, rows(300, errors=6), rows(300, errors=6)) == []  # the same
    # 2.3 % against 2 %: past the margin, but not a significant difference on 300 calls each
    assert breaches(relative, rows(300, errors=7), rows(300, errors=6)) == []
    slower = breaches(relative, rows(300, latency_ms=150), rows(300, latency_ms=100))
    assert slower == ["p95 latency 0.15 s against 0.10 s for the other version(s)"]
    assert breaches(relative, rows(300, latency_ms=105), rows(300, latency_ms=100)) == []  # within 10 %
    dearer = breaches(relative, rows(300, cost="0.002"), rows(300, cost="0.001"))
    assert dearer and dearer[0].startswith("cost per call")


def test_the_relative_rule_waits_for_both_sides() -> None:
    relative = rule(max_worse_pct=10)
    assert breaches(relative, rows(300, errors=60), rows(199)) == []
    assert breaches(relative, rows(300, errors=60)) == []  # no other version: nothing to compare with
