"""The statistics behind ``keel prompts stats``: the tests against known values, and comparisons of
simulated variants — a real difference flagged, identical variants not."""

from __future__ import annotations

import random

import pytest

from keel.prompts.stats import compare, holm, mann_whitney_p, two_proportion_p, wilson


def test_the_tests_give_their_textbook_values() -> None:
    """Wilson 0/10, a two-proportion z-test, a Mann-Whitney U with no overlap, Holm's step-down."""
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert two_proportion_p(20, 100, 10, 100) == pytest.approx(0.0477, abs=1e-3)  # pooled z = 1.98
    assert mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(0.0090, abs=5e-4)
    assert mann_whitney_p([1.0] * 5, [1.0] * 5) == 1.0
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def rows(version: int, calls: int, error_rate: float, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [
        {
            "prompt_version": version,
            "variant": None,
            "status": "error" if rng.random() < error_rate else "ok",
            "latency_ms": rng.lognormvariate(5, 0.3),
            "ttft_ms": None,
            "cost_usd": "0.0001",
            "validation": None,
        }
        for _ in range(calls)
    ]


def test_a_variant_failing_a_fifth_of_its_calls_is_flagged_worse() -> None:
    """v2 fails 20 % of 500 calls, v1 none: only v2's error rate is significant, and worse."""
    report = compare(rows(1, 500, 0.0, 1) + rows(2, 500, 0.2, 2))
    assert report["baseline"] in (1, 2)
    flagged = [c for c in report["comparisons"] if c["significant"]]
    assert [(c["metric"], c["direction"]) for c in flagged] == [
        ("error rate", "worse" if report["baseline"] == 1 else "better")
    ]
    assert report["significant"][0].startswith("v2 is significantly worse than v1 on error rate") or (
        report["baseline"] == 2
    )


def test_identical_variants_flag_nothing_and_the_false_alarm_rate_stays_under_five_percent() -> None:
    """Two versions drawn from one distribution (5 % errors, one latency law): a typical pair flags
    nothing; over 60 such pairs (fixed seeds) at most 5 % flag anything — the Holm correction keeps
    the family-wise error rate at alpha across the metrics."""
    report = compare(rows(1, 400, 0.05, 3) + rows(2, 400, 0.05, 4), baseline=1)
    assert report["significant"] == [] and [v["calls"] for v in report["variants"]] == [400, 400]
    alarms = sum(
        1
        for seed in range(60)
        if compare(rows(1, 300, 0.05, 1000 + seed) + rows(2, 300, 0.05, 2000 + seed))["significant"]
    )
    assert alarms <= 3


def test_lower_feedback_is_worse() -> None:
    """Scores are compared too, higher being better: v2's thumbs-down majority is flagged worse."""
    rng = random.Random(7)
    scores = [{"prompt_version": 1, "score": float(rng.random() < 0.8)} for _ in range(300)]
    scores += [{"prompt_version": 2, "score": float(rng.random() < 0.5)} for _ in range(300)]
    report = compare(rows(1, 400, 0.0, 5) + rows(2, 400, 0.0, 6), baseline=1, feedback=scores)
    [flagged] = [c for c in report["comparisons"] if c["significant"]]
    assert (flagged["metric"], flagged["direction"]) == ("feedback", "worse")
    assert report["variants"][0]["feedback_count"] == 300
