"""Budget and rate-limit metrics: spend settled per budget, what is left, and refusals.

Fed by the budget policy's attempt listener as it settles and reads its counters, and by the rate
limit policies when they refuse: nothing here reads a store of its own. Budget names are bounded
like every caller-fed label (a key's own budget is named after its key id).
"""

from __future__ import annotations

from ._bounded import BoundedValues
from .metrics import (
    budget_refusals,
    budget_remaining,
    budget_spend_tokens,
    budget_spend_usd,
    rate_limit_refusals,
)

__all__ = ["budget_refused", "budget_settled", "budget_state", "rate_limited"]

_budgets = BoundedValues()


def budget_settled(budget: str, unit: str, amount: float) -> None:
    """``amount`` (dollars or tokens) settled against ``budget``."""
    if amount:
        metric = budget_spend_usd if unit == "usd" else budget_spend_tokens
        metric.labels(budget=_budgets(budget)).inc(amount)


def budget_state(budget: str, unit: str, remaining: float) -> None:
    """What is left of a budget with one subject."""
    budget_remaining.labels(budget=_budgets(budget), unit=unit).set(remaining)


def budget_refused(budget: str) -> None:
    budget_refusals.labels(budget=_budgets(budget)).inc()


def rate_limited(limit_key: str) -> None:
    """A refusal by the rate-limit counter ``{keel-rate}:<scope>:<subject>:<minute>:<rpm|tpm>``."""
    parts = limit_key.split(":")
    rate_limit_refusals.labels(scope=parts[1], limit="requests" if parts[-1] == "rpm" else "tokens").inc()
