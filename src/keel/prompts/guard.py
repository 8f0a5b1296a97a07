"""``LabelGuard``: automatic rollback — a label whose new version breaks its rollout rule goes back.

A rule (``prompts.guards`` in ``keel.yaml``) watches one label. The label's last move brought in
new versions (a version that replaced another, or the versions a split added); once those have
served ``min_calls`` calls since the move, their figures from the ledger are judged against the
rule's limits (error rate, validation-failure rate, p95 latency, cost per call). A breach moves the
label back to where it was before that move — by the same compare-and-set as any move, so with
several replicas judging at once exactly one moves it and only that one alerts (a log line at
warning, ``keel_prompt_rollbacks_total``, and the budgets' webhook, ``alerts.webhook_url``). The move
is recorded with reason ``guard: …``; a label whose last move was a rollback is not judged again
until it moves forward.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import PromptLabelConflictError
from ..telemetry.logs import get_logger
from ..telemetry.metrics import prompt_rollbacks
from .split import Split
from .stats import VariantStats, two_proportion_p
from .store import LabelMove, Target, public

if TYPE_CHECKING:
    from ..config import PromptGuardConfig
    from .store import PromptStore

__all__ = ["LabelGuard", "breaches"]

log = get_logger("keel.prompts")


def _versions(target: Target) -> set[int]:
    if isinstance(target, Split):
        return set(target.versions)
    return set() if target is None else {target}


def _figures(rows: list[dict[str, Any]]) -> VariantStats:
    figures = VariantStats(0)
    for row in rows:
        figures.add(row)
    return figures


# Two rates differ for the relative rule only when a two-proportion test says so at this level.
_SIGNIFICANT = 0.05


def breaches(
    rule: PromptGuardConfig, rows: list[dict[str, Any]], others: list[dict[str, Any]] | None = None
) -> list[str]:
    """What the new version(s)' calls (``rows``) break in ``rule`` (empty: nothing, or too few calls
    yet); ``others``: the calls of the label's other version(s) since the same move, for
    ``max_worse_pct``."""
    if len(rows) < rule.min_calls:
        return []
    figures = _figures(rows)
    found = figures.public()
    broken = _absolute(rule, found)
    if rule.max_worse_pct is not None and others is not None and len(others) >= rule.min_calls:
        broken += _relative(rule.max_worse_pct, figures, _figures(others))
    return broken


def _relative(pct: float, new: VariantStats, other: VariantStats) -> list[str]:
    """How the new version(s) are worse than the other(s) by more than ``pct`` percent."""
    margin = 1 + pct / 100
    broken = []
    rates = (
        ("error rate", new.errors, new.calls, other.errors, other.calls),
        (
            "validation failure rate",
            new.validation_failed,
            new.validated,
            other.validation_failed,
            other.validated,
        ),
    )
    for what, k, n, k_other, n_other in rates:
        if not n or not n_other:
            continue
        rate, baseline = k / n, k_other / n_other
        if rate > baseline * margin and two_proportion_p(k, n, k_other, n_other) < _SIGNIFICANT:
            broken.append(f"{what} {rate:.1%} against {baseline:.1%} for the other version(s)")
    ours, theirs = new.public(), other.public()
    p95, p95_other = ours["latency_p95_ms"] or 0, theirs["latency_p95_ms"] or 0
    if p95_other and p95 > p95_other * margin:
        broken.append(
            f"p95 latency {p95 / 1000:.2f} s against {p95_other / 1000:.2f} s for the other version(s)"
        )
    cost, cost_other = ours["cost_per_call_usd"], theirs["cost_per_call_usd"]
    if cost_other and cost > cost_other * margin:
        broken.append(f"cost per call ${cost:.6f} against ${cost_other:.6f} for the other version(s)")
    return broken


def _absolute(rule: PromptGuardConfig, found: dict[str, Any]) -> list[str]:
    broken = []
    if rule.max_error_rate is not None and found["error_rate"] > rule.max_error_rate:
        broken.append(f"error rate {found['error_rate']:.1%} > {rule.max_error_rate:.1%}")
    invalid = found["validation_failure_rate"]
    if (
        rule.max_validation_failure_rate is not None
        and invalid is not None
        and invalid > rule.max_validation_failure_rate
    ):
        broken.append(f"validation failure rate {invalid:.1%} > {rule.max_validation_failure_rate:.1%}")
    p95 = (found["latency_p95_ms"] or 0) / 1000
    if rule.max_p95_latency_s is not None and p95 > rule.max_p95_latency_s:
        broken.append(f"p95 latency {p95:.2f} s > {rule.max_p95_latency_s} s")
    cost = found["cost_per_call_usd"]
    if rule.max_cost_per_call_usd is not None and cost > float(rule.max_cost_per_call_usd):
        broken.append(f"cost per call ${cost:.6f} > ${rule.max_cost_per_call_usd}")
    return broken


class LabelGuard:
    """Judges every rule once per call of ``check``; ``notify`` posts an alert event (the webhook)."""

    def __init__(self, store: PromptStore, ledger: Any, notify: Any = None) -> None:
        self.store = store
        self.ledger = ledger
        self.notify = notify

    async def check(
        self, rules: list[PromptGuardConfig], labels: dict[str, dict[str, int | Split]]
    ) -> list[LabelMove]:
        """Judge each rule; the rollbacks this process made."""
        moved = []
        for rule in rules:
            current = labels.get(rule.prompt, {}).get(rule.label)
            if current is None:
                continue
            history = await self.store.history(rule.prompt, rule.label, limit=1)
            last = history[0] if history else None
            if last is None or last.to_version != current or last.from_version is None:
                continue
            if last.reason == "rollback" or last.reason.startswith("guard"):
                continue
            new = _versions(current) - _versions(last.from_version)
            if not new:
                continue
            rows = await self.ledger.prompt_calls(rule.prompt, since=last.moved_at)
            others = _versions(current) - new
            broken = breaches(
                rule,
                [row for row in rows if row.get("prompt_version") in new],
                [row for row in rows if row.get("prompt_version") in others],
            )
            if not broken:
                continue
            reason = "guard: " + "; ".join(broken)
            try:
                move = await self.store.move_label(
                    rule.prompt, rule.label, last.from_version, expected=current, by="guard", reason=reason
                )
            except PromptLabelConflictError:
                continue  # another replica rolled it back first (or someone moved it): not ours to announce
            self._alert(move, new)
            moved.append(move)
        return moved

    def _alert(self, move: LabelMove, new: set[int]) -> None:
        event = {
            "alert": "prompt_rollback",
            "prompt": move.name,
            "label": move.label,
            "from": public(move.from_version),
            "to": public(move.to_version),
            "versions": sorted(new),
            "reason": move.reason,
            "at": time.time(),
        }
        log.warning("prompt label rolled back by its guard", **event)
        prompt_rollbacks.labels(prompt=move.name, label=move.label).inc()
        if self.notify is not None:
            self.notify(event)
