"""Flags evaluated for many callers: sticky percentages, targeting before the rollout, off and fallback."""

from __future__ import annotations

import math

import pytest

from keel.flags import Context, Flag, Rule, Variant, layout_rollout

USERS = [f"user-{n}" for n in range(10_000)]


def _flag(rollout: dict[str, float], previous: Flag | None = None, **fields: object) -> Flag:
    layout = layout_rollout(previous.layout if previous else None, rollout)
    return Flag.model_validate({"name": "summarizer", "rollout": rollout, "layout": layout, **fields})


def _on(flag: Flag) -> set[str]:
    return {user for user in USERS if flag.evaluate(Context(user=user)).variant == "on"}


def test_ten_percent_within_binomial_bounds_and_stable() -> None:
    """A 10 % rollout over 10,000 users puts within 4 standard deviations of 1,000 on, each the same
    every time (also after a round trip through its stored form)."""
    flag = _flag({"on": 10})
    on = _on(flag)
    spread = 4 * math.sqrt(10_000 * 0.1 * 0.9)
    assert abs(len(on) - 1000) < spread
    again = Flag.model_validate_json(flag.model_dump_json())
    assert _on(again) == on


def test_raising_keeps_the_first_callers_on() -> None:
    """Raising 10 % to 20 % keeps every caller of the 10 % on and adds about 10 % more."""
    first = _flag({"on": 10})
    second = _flag({"on": 20}, first)
    before, after = _on(first), _on(second)
    assert before <= after
    assert abs(len(after) - 2000) < 4 * math.sqrt(10_000 * 0.2 * 0.8)


def test_targeting_wins_over_the_percentage() -> None:
    """A targeted user gets the rule's variant whether or not the rollout would have picked it."""
    flag = _flag({"on": 10}, rules=[Rule(variant="on", users=tuple(USERS[:500]))])
    targeted = [flag.evaluate(Context(user=user)) for user in USERS[:500]]
    assert all(d.variant == "on" and d.reason == "targeted" for d in targeted)
    beta = _flag({"on": 0}, rules=[Rule(variant="on", teams=("beta",), attributes={"plan": ("pro",)})])
    assert beta.evaluate(Context(team="beta", attributes={"plan": "pro"})).reason == "targeted"
    assert beta.evaluate(Context(team="beta", attributes={"plan": "free"})).variant is None


def test_multi_variant_moves_only_who_must() -> None:
    """Going from new 10 % to new 20 % of a two-variant flag moves only callers from old to new."""
    variants = {"old": Variant(model="small"), "new": Variant(model="large")}
    first = _flag({"new": 10}, variants=variants, default="old")
    second = _flag({"new": 20}, first, variants=variants, default="old")
    moved = [
        u
        for u in USERS
        if first.evaluate(Context(user=u)).variant != second.evaluate(Context(user=u)).variant
    ]
    assert all(first.evaluate(Context(user=u)).variant == "old" for u in moved)
    assert abs(len(moved) - 1000) < 4 * math.sqrt(10_000 * 0.1 * 0.9)


def test_off_serves_the_fallback_or_nothing() -> None:
    """A killed flag serves its fallback variant; without one, no variant (the call is refused)."""
    variants = {"new": Variant(model="large"), "old": Variant(model="small")}
    killed = Flag(name="s", enabled=False, variants=variants, default="new", fallback="old")
    decision = killed.evaluate(Context(user="u"))
    assert (decision.variant, decision.reason, decision.off) == ("old", "fallback", "killed")
    bare = Flag(name="s", enabled=False)
    assert bare.evaluate(Context(user="u")).variant is None
    assert "killed" in bare.state()


def test_unknown_variant_is_refused() -> None:
    """A rule, rollout, default or fallback naming a variant the flag lacks is a validation error."""
    with pytest.raises(ValueError, match="not one of"):
        Flag(name="s", default="nope")
