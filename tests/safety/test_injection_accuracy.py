"""The injection scanner on the project's labelled set: rates asserted at what it reaches, less a margin."""

from __future__ import annotations

from .scoring import score_injection


def test_on_the_tuning_split_fpr_is_at_most_2_percent_and_tpr_at_least_95() -> None:
    """On the split committed before the scanner and tuned on (159 attacks, 314 benign): TPR 0.994
    and FPR 0.003 measured; every category at least 0.9."""
    score = score_injection("tuning")
    assert score.attacks >= 150 and score.benign >= 300
    assert score.fpr <= 0.02, score
    assert score.tpr >= 0.95, score
    assert all(detected / attacks >= 0.9 for attacks, detected in score.by_category.values()), score


def test_on_the_second_round_split_the_tuned_rates_hold() -> None:
    """On the split of the second tuning round (40 attacks, 60 benign): TPR 0.975, FPR 0 measured."""
    score = score_injection("round2")
    assert score.tpr >= 0.9, score
    assert score.fpr <= 0.02, score


def test_on_the_held_out_split_the_rates_hold_what_was_measured() -> None:
    """On text never tuned on (50 attacks, 80 benign) the scanner catches 0.62 of the attacks and
    flags 3 of 80 benign prompts (0.0375): the honest, lower figures, asserted less a margin."""
    score = score_injection("heldout")
    assert score.attacks >= 50 and score.benign >= 80
    assert score.tpr >= 0.55, score
    assert score.fpr <= 0.06, score
