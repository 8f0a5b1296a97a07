"""``BoundedValues``: caller-fed label values stop growing at their ceiling."""

from keel.telemetry._bounded import OTHER, BoundedValues


def test_values_past_the_ceiling_are_other_and_seen_ones_keep_their_own() -> None:
    """Two values fit a ceiling of two; a third is ``other``; the first two stay themselves."""
    bounded = BoundedValues()
    assert [bounded(value, 2) for value in ("a", "b", "c", "a", "b", "d")] == [
        "a",
        "b",
        OTHER,
        "a",
        "b",
        OTHER,
    ]
