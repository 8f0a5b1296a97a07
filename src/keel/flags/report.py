"""A flag's variants compared from the ledger: the prompts' statistics, grouped by flag variant."""

from __future__ import annotations

from typing import Any

from ..prompts.stats import compare

__all__ = ["flag_report"]


async def flag_report(
    ledger: Any, name: str, *, since: float | None = None, baseline: str | None = None
) -> dict[str, Any]:
    """``keel flags stats``' report: each variant's calls, error rate, latency, cost, feedback, and
    which differences from the baseline variant (most calls unless told) are significant.

    Raises:
        ValueError: the ledger cannot answer (an engine without per-feature queries).
    """
    query = getattr(ledger, "feature_calls", None)
    if query is None:
        raise ValueError("this ledger engine cannot report flag statistics")
    rows = await query(name, since=since)
    feedback = await ledger.feature_feedback(name, since=since)
    report = compare(rows, baseline=baseline, feedback=feedback, key="feature_variant", shown="{}")
    return {"flag": name, **report}
