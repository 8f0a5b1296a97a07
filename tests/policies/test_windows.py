"""Counter windows are UTC calendar periods with the time left in them."""

from datetime import UTC, datetime

from keel.policies._windows import current_window

NOW = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)


def test_windows_name_their_period_and_time_left() -> None:
    """Each window's label names its period; the TTL runs to the period's end, across year ends."""
    assert current_window("minute", NOW) == ("t202612312359", 30.0)
    assert current_window("hour", NOW) == ("h2026123123", 30.0)
    assert current_window("day", NOW) == ("d20261231", 30.0)
    assert current_window("month", NOW) == ("m202612", 30.0)
    assert current_window("lifetime", NOW) == ("life", None)
