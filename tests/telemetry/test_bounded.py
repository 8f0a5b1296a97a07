"""``BoundedValues``: caller-fed label values stop growing at their ceiling."""

from collections.abc import Iterator

import pytest

from keel.telemetry._bounded import OTHER, BoundedValues, _ceiling, set_ceiling


@pytest.fixture
def ceiling_of_two() -> Iterator[None]:
    kept = _ceiling[0]
    set_ceiling(2)
    yield
    set_ceiling(kept)


def test_values_past_the_ceiling_are_other_and_seen_ones_keep_their_own(ceiling_of_two: None) -> None:
    """Two values fit a ceiling of two; a third is ``other``; the first two stay themselves."""
    bounded = BoundedValues()
    values = [bounded(value) for value in ("a", "b", "c", "a", "b", "d")]
    assert values == ["a", "b", OTHER, "a", "b", OTHER]
