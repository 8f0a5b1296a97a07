"""The injection scanner on the project's labelled set: rates asserted at what it reaches, less a margin."""

from __future__ import annotations

from .scoring import score_injection


def test_on_the_tuning_split_fpr_is_at_most_2_percent_and_tpr_at_least_95() -> None:
    """On the split the rules were shaped on (159 attacks, 314 benign): TPR 0.99 measured, FPR 0.3 %."""
    score = score_injection("tuning")
    assert score.attacks >= 150 and score.benign >= 300
    assert score.fpr <= 0.02, score
    assert score.tpr >= 0.95, score
    assert all(detected / attacks >= 0.9 for attacks, detected in score.by_category.values()), score


def test_on_the_held_out_split_the_rates_hold_what_was_measured() -> None:
    """On text written after tuning (40 attacks, 60 benign) the scanner catches half the attacks
    (0.50 measured) and flags few benign prompts (2 of 60 measured): the honest, lower figures."""
    score = score_injection("heldout")
    assert score.attacks >= 40 and score.benign >= 60
    assert score.tpr >= 0.45, score
    assert score.fpr <= 0.05, score
