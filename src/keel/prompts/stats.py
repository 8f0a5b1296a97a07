"""``keel prompts stats``: a prompt's versions compared from the ledger, with intervals and tests.

Each version that served calls (the ledger's ``prompt_version``; under a split label, each variant)
gets its calls, error rate and validation-failure rate (with 95 % Wilson intervals), p50/p95 latency,
p50 time to first token (streams), and cost per call (with a 95 % normal interval). Every other
version is compared with a **baseline** — the one that served most calls unless told:

- rates by a two-sided **two-proportion z-test** (pooled);
- latency, cost and feedback scores by a two-sided **Mann-Whitney U test** (normal approximation,
  ties corrected), which asks whether one version's values tend to be larger, without assuming a
  distribution;

and the p-values of all comparisons in the report are adjusted together by **Holm-Bonferroni**, so
the chance of flagging any difference that is not there stays under 5 %. A difference is called
significant only when its adjusted p is below 0.05; the report says which way it goes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["ALPHA", "VariantStats", "compare", "holm", "mann_whitney_p", "two_proportion_p", "wilson"]

ALPHA = 0.05
_Z = 1.959963984540054  # the normal quantile of 0.975


def wilson(successes: int, total: int) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    denominator = 1 + _Z**2 / total
    centre = (p + _Z**2 / (2 * total)) / denominator
    half = _Z * math.sqrt(p * (1 - p) / total + _Z**2 / (4 * total**2)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p of the pooled two-proportion z-test."""
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (k1 + k2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / spread
    return math.erfc(abs(z) / math.sqrt(2))


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of the Mann-Whitney U test (normal approximation with tie correction)."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        count = j - i + 1
        ties += count**3 - count
        i = j + 1
    rank_a = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_a - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda index: pvalues[index])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def _negated(version: Any) -> Any:
    """Ties on calls go to the lowest version number (names: the first in order)."""
    if isinstance(version, int):
        return -version
    return tuple(-ord(char) for char in str(version))


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


@dataclass(slots=True)
class VariantStats:
    """The calls one version served, and what they amount to."""

    version: Any
    """What the calls are grouped by: a prompt's version number, or a flag's variant name."""
    variant: str | None = None
    calls: int = 0
    errors: int = 0
    validated: int = 0
    validation_failed: int = 0
    latency_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    cost_usd: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def add(self, row: dict[str, Any]) -> None:
        self.calls += 1
        self.errors += row["status"] != "ok"
        if row.get("validation") is not None:
            self.validated += 1
            self.validation_failed += row["validation"] == "failed"
        self.latency_ms.append(float(row["latency_ms"]))
        if row.get("ttft_ms") is not None:
            self.ttft_ms.append(float(row["ttft_ms"]))
        self.cost_usd.append(float(Decimal(str(row["cost_usd"] or 0))))

    def public(self) -> dict[str, Any]:
        mean_cost = sum(self.cost_usd) / self.calls if self.calls else 0.0
        spread = _sd(self.cost_usd) * _Z / math.sqrt(self.calls) if self.calls > 1 else 0.0
        return {
            "version": self.version,
            "calls": self.calls,
            "error_rate": self.errors / self.calls if self.calls else 0.0,
            "error_rate_ci": wilson(self.errors, self.calls),
            "validation_failure_rate": self.validation_failed / self.validated if self.validated else None,
            "validation_failure_rate_ci": wilson(self.validation_failed, self.validated)
            if self.validated
            else None,
            "latency_p50_ms": _quantile(self.latency_ms, 0.5),
            "latency_p95_ms": _quantile(self.latency_ms, 0.95),
            "ttft_p50_ms": _quantile(self.ttft_ms, 0.5),
            "ttft_p95_ms": _quantile(self.ttft_ms, 0.95),
            "cost_per_call_usd": mean_cost,
            "cost_per_call_ci": (max(0.0, mean_cost - spread), mean_cost + spread),
            "feedback_count": len(self.scores),
            "feedback_mean": sum(self.scores) / len(self.scores) if self.scores else None,
            "feedback_ci": _mean_ci(self.scores),
        }


_Test = tuple[str, str, float | None, float | None, float]


def _rate(metric: str, k_base: int, n_base: int, k: int, n: int) -> _Test:
    """A rate compared by the two-proportion z-test: metric, test, baseline, value, p."""
    p = two_proportion_p(k, n, k_base, n_base)
    return metric, "two-proportion z-test", k_base / max(n_base, 1), k / max(n, 1), p


def _spread(metric: str, base: Sequence[float], other: Sequence[float], *, mean: bool = False) -> _Test:
    """Values compared by the Mann-Whitney U test; shown as medians (or means, for cost)."""
    if mean:
        shown: tuple[float | None, float | None] = (sum(base) / len(base), sum(other) / len(other))
    else:
        shown = (_quantile(base, 0.5), _quantile(other, 0.5))
    return metric, "Mann-Whitney U", *shown, mann_whitney_p(other, base)


def _mean_ci(values: Sequence[float]) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    half = _sd(values) * _Z / math.sqrt(len(values))
    return (mean - half, mean + half)


def _sd(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))


def compare(
    rows: Iterable[dict[str, Any]],
    *,
    baseline: Any = None,
    feedback: Iterable[dict[str, Any]] = (),
    key: str = "prompt_version",
    shown: str = "v{}",
) -> dict[str, Any]:
    """The report: each version's figures, each comparison with the baseline, and what is significant.
    ``feedback``: scores (``key``, ``score``) of the versions' answers. ``key`` is the column the
    calls are grouped by (a flag's stats group by ``feature_variant``); ``shown`` names a group."""
    variants: dict[Any, VariantStats] = {}
    for row in rows:
        if row.get(key) is None:
            continue
        variants.setdefault(row[key], VariantStats(row[key])).add(row)
    for row in feedback:
        if row.get(key) in variants:
            variants[row[key]].scores.append(float(row["score"]))
    if not variants:
        return {"baseline": None, "variants": [], "comparisons": [], "significant": []}
    base = variants.get(baseline) if baseline is not None else None
    if base is None:
        base = max(variants.values(), key=lambda v: (v.calls, _negated(v.version)))
    comparisons: list[dict[str, Any]] = []
    for other in sorted(variants.values(), key=lambda v: v.version):  # numbers, or names
        if other is base:
            continue
        tests = [
            _rate("error rate", base.errors, base.calls, other.errors, other.calls),
            _spread("latency", base.latency_ms, other.latency_ms),
            _spread("cost per call", base.cost_usd, other.cost_usd, mean=True),
        ]
        if base.validated and other.validated:
            failed = (base.validation_failed, base.validated, other.validation_failed, other.validated)
            tests.append(_rate("validation failure rate", *failed))
        if base.ttft_ms and other.ttft_ms:
            tests.append(_spread("time to first token", base.ttft_ms, other.ttft_ms))
        if base.scores and other.scores:
            tests.append(_spread("feedback", base.scores, other.scores, mean=True))
        for metric, test, was, now, p in tests:
            comparisons.append(
                {
                    "version": other.version,
                    "metric": metric,
                    "test": test,
                    "baseline": was,
                    "value": now,
                    "p": p,
                }
            )
    for comparison, adjusted in zip(comparisons, holm([c["p"] for c in comparisons]), strict=True):
        comparison["p_adjusted"] = adjusted
        comparison["significant"] = adjusted < ALPHA
        higher = (comparison["value"] or 0) > (comparison["baseline"] or 0)
        worse = not higher if comparison["metric"] == "feedback" else higher  # feedback: higher is better
        comparison["direction"] = "worse" if worse else "better"
    return {
        "baseline": base.version,
        "variants": [variants[v].public() for v in sorted(variants)],
        "comparisons": comparisons,
        "significant": [
            f"{shown.format(c['version'])} is significantly {c['direction']} than "
            f"{shown.format(base.version)} on {c['metric']} "
            f"({c['test']}, Holm-adjusted p = {c['p_adjusted']:.2g})"
            for c in comparisons
            if c["significant"]
        ],
    }
