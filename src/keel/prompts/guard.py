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
from .stats import VariantStats
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


def breaches(rule: PromptGuardConfig, rows: list[dict[str, Any]]) -> list[str]:
    """What the new version(s)' calls break in ``rule`` (empty: nothing, or too few calls yet)."""
    if len(rows) < rule.min_calls:
        return []
    figures = VariantStats(0)
    for row in rows:
        figures.add(row)
    found = figures.public()
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
            broken = breaches(rule, [row for row in rows if row.get("prompt_version") in new])
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
