"""Calendar windows for counters: a key suffix naming the current window, and the time left in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = ["Window", "current_window"]

Window = Literal["minute", "hour", "day", "month", "lifetime"]


def current_window(window: Window, now: datetime | None = None) -> tuple[str, float | None]:
    """``("d20261123", seconds_until_tomorrow)`` for ``day``; windows are UTC calendar periods."""
    now = now or datetime.now(UTC)
    if window == "lifetime":
        return "life", None
    if window == "minute":
        start = now.replace(second=0, microsecond=0)
        end, label = start + timedelta(minutes=1), start.strftime("t%Y%m%d%H%M")
    elif window == "hour":
        start = now.replace(minute=0, second=0, microsecond=0)
        end, label = start + timedelta(hours=1), start.strftime("h%Y%m%d%H")
    elif window == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        end, label = start + timedelta(days=1), start.strftime("d%Y%m%d")
    elif window == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
        label = start.strftime("m%Y%m")
    else:
        raise ValueError(f"unknown window {window!r}")
    return label, (end - now).total_seconds()
