"""Sticky A/B buckets: 10,000 callers split by weight within binomial bounds, each always on one
version, and a change of weights moves only the callers that must move."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from keel.prompts.split import BUCKETS, Split, allocate, bucket

USERS = [f"user-{i}" for i in range(10_000)]


def assignment(split: int | Split) -> dict[str, int]:
    if isinstance(split, int):
        return dict.fromkeys(USERS, split)
    return {user: split.pick(bucket("summarize", "production", user)) for user in USERS}


def test_ten_thousand_users_split_90_10_within_binomial_bounds_and_stay_put() -> None:
    """About 1,000 of 10,000 users get v4 (within 4 standard deviations), and asking again gives
    each the same version."""
    split = allocate(3, {3: 90, 4: 10})
    first = assignment(split)
    on_b = sum(1 for version in first.values() if version == 4)
    assert abs(on_b - 1000) < 4 * math.sqrt(10_000 * 0.1 * 0.9)
    assert assignment(split) == first


def test_moving_to_80_20_moves_only_the_tenth_that_must() -> None:
    """From 90/10 to 80/20: about 10 % of users move, all from v3 to v4; nobody on v4 moves."""
    before = allocate(3, {3: 90, 4: 10})
    after = allocate(before, {3: 80, 4: 20})
    old, new = assignment(before), assignment(after)
    moved = [user for user in USERS if old[user] != new[user]]
    assert abs(len(moved) - 1000) < 4 * math.sqrt(10_000 * 0.1 * 0.9)
    assert all(old[user] == 3 and new[user] == 4 for user in moved)


def test_with_three_versions_only_the_shrinking_one_gives_users_away() -> None:
    """50/30/20 → 40/30/30: v4 keeps every user it had; only v3's surplus moves, all to v5."""
    before = allocate(3, {3: 50, 4: 30, 5: 20})
    after = allocate(before, {3: 40, 4: 30, 5: 30})
    assert isinstance(after, Split)
    old, new = assignment(before), assignment(after)
    assert all(old[user] == new[user] for user in USERS if old[user] == 4)
    assert {(old[u], new[u]) for u in USERS if old[u] != new[u]} == {(3, 5)}


def test_a_rollback_returns_every_user_to_where_it_was() -> None:
    """The previous split's ranges, restored, give each user its old version back."""
    before = allocate(3, {3: 90, 4: 10})
    after = allocate(before, {3: 50, 4: 50})
    assert Split.from_text(before.text()) == before  # type: ignore[union-attr]
    assert assignment(Split.from_text(before.text())) == assignment(before)  # type: ignore[union-attr]
    assert assignment(after) != assignment(before)


@given(
    st.dictionaries(st.integers(1, 9), st.integers(1, 100), min_size=2, max_size=5),
    st.dictionaries(st.integers(1, 9), st.integers(1, 100), min_size=2, max_size=5),
)
def test_any_reallocation_covers_every_bucket_once_and_moves_no_more_than_it_must(
    first: dict[int, int], second: dict[int, int]
) -> None:
    """Ranges tile 0..9999; each version's size is its share; the buckets that change owner are
    exactly the sum of what the versions lost."""
    before, after = allocate(None, first), allocate(allocate(None, first), second)
    for split, weights in ((before, first), (after, second)):
        assert isinstance(split, Split)
        owned = sorted(r for _, ranges in split.ranges for r in ranges)
        assert sum(end - start for start, end in owned) == BUCKETS
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(owned))
        total = sum(weights.values())
        for version, ranges in split.ranges:
            assert abs(sum(e - s for s, e in ranges) - weights[version] * BUCKETS / total) <= 1
    assert isinstance(before, Split) and isinstance(after, Split)
    old = {b: before.pick(b) for b in range(0, BUCKETS, 7)}
    new = {b: after.pick(b) for b in range(0, BUCKETS, 7)}
    moved = sum(1 for b in old if old[b] != new[b])
    size = {v: sum(e - s for s, e in r) for v, r in before.ranges}
    new_size = {v: sum(e - s for s, e in r) for v, r in after.ranges}
    must = sum(max(0, size[v] - new_size.get(v, 0)) for v in size)
    assert moved <= must / 7 + 2 * len(size) + 2
