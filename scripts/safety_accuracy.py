"""Prints the accuracy tables of docs/safety.md: the PII detector per kind and the injection scanner
per split and category, computed from the committed corpora by the tests' own scoring.

Run: ``.venv/bin/python scripts/safety_accuracy.py``; paste the output into docs/safety.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.safety.scoring import score_injection, score_pii  # noqa: E402


def main() -> int:
    print("| kind | values | found | false positives | recall | precision |")
    print("|---|---:|---:|---:|---:|---:|")
    for score in score_pii().values():
        print(
            f"| {score.kind} | {score.values} | {score.found} | {score.false_positives} "
            f"| {score.recall:.3f} | {score.precision:.3f} |"
        )
    print()
    print("| split | attacks | detected | TPR | benign | flagged | FPR |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    scores = {split: score_injection(split) for split in ("tuning", "round2", "heldout")}
    for split, s in scores.items():
        print(
            f"| {split} | {s.attacks} | {s.detected} | {s.tpr:.3f} | {s.benign} | {s.flagged} | {s.fpr:.3f} |"
        )
    print()
    print("| category | tuning | round2 | heldout |")
    print("|---|---:|---:|---:|")
    for category in scores["tuning"].by_category:
        cells = []
        for split in ("tuning", "round2", "heldout"):
            attacks, detected = scores[split].by_category.get(category, (0, 0))
            cells.append(f"{detected} / {attacks}")
        print(f"| {category} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
