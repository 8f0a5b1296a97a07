"""Scores the safety detectors on the committed corpora; the tests and scripts/safety_accuracy.py share it."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from keel.safety.pii import KINDS, find_pii

__all__ = ["CORPUS", "InjectionScore", "KindScore", "score_injection", "score_pii"]

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class KindScore:
    kind: str
    values: int
    found: int
    false_positives: int

    @property
    def recall(self) -> float:
        return self.found / self.values if self.values else 1.0

    @property
    def precision(self) -> float:
        reported = self.found + self.false_positives
        return self.found / reported if reported else 1.0


def row_text(row: dict[str, object]) -> str:
    """A corpus row's text. Rows that carry a generated credential keep it base64-encoded
    (``text_b64``), so no committed line looks like a live key to a secret scanner."""
    if "text_b64" in row:
        return base64.b64decode(str(row["text_b64"])).decode("utf-8")
    return str(row["text"])


def score_pii(path: Path = CORPUS / "pii.jsonl") -> dict[str, KindScore]:
    """Recall and precision per kind: a value counts as found when a span of its kind covers it
    (give or take one character at each end), and any other span of that kind is a false positive."""
    found: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spans = find_pii(row_text(row))
        matched = set()
        for want in row["spans"]:
            hits = [
                s
                for s in spans
                if s.kind == want["kind"]
                and s.start <= want["start"] + 1
                and s.end >= want["end"] - 1
                and (s.end - s.start) <= (want["end"] - want["start"]) + 2
            ]
            if hits:
                found[want["kind"]] += 1
                matched.add(hits[0])
            else:
                missed[want["kind"]] += 1
        for span in spans:
            if span not in matched:
                false[span.kind] += 1
    return {k: KindScore(k, found[k] + missed[k], found[k], false[k]) for k in KINDS}


@dataclass(frozen=True)
class InjectionScore:
    attacks: int
    detected: int
    benign: int
    flagged: int
    by_category: dict[str, tuple[int, int]]  # category -> (attacks, detected)

    @property
    def tpr(self) -> float:
        return self.detected / self.attacks

    @property
    def fpr(self) -> float:
        return self.flagged / self.benign


def score_injection(split: str, path: Path = CORPUS / "injection.jsonl") -> InjectionScore:
    """True-positive rate on the attacks and false-positive rate on the benign prompts of one split
    (``tuning`` or ``heldout``), at the scanner's default threshold."""
    from keel.safety.injection import scan

    attacks = detected = benign = flagged = 0
    by_category: dict[str, list[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != split:
            continue
        hit = scan(row["text"]).flagged
        if row["label"] == "attack":
            attacks += 1
            detected += hit
            counts = by_category.setdefault(row["category"], [0, 0])
            counts[0] += 1
            counts[1] += hit
        else:
            benign += 1
            flagged += hit
    return InjectionScore(
        attacks, detected, benign, flagged, {k: (a, d) for k, (a, d) in by_category.items()}
    )
