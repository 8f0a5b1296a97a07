"""Limits count per calendar minute (UTC): a test that makes several limited calls must not straddle
two minutes, or the second minute's counter starts afresh and the refusal it expects never comes."""

from __future__ import annotations

import asyncio
import time

__all__ = ["fresh_minute", "fresh_minute_async"]


def _left_if_short(margin: float) -> float:
    left = 60 - time.time() % 60
    return left + 0.05 if left < margin else 0.0


def fresh_minute(margin: float = 8.0) -> None:
    """Wait for the next minute when this one has less than ``margin`` seconds left."""
    if wait := _left_if_short(margin):
        time.sleep(wait)


async def fresh_minute_async(margin: float = 8.0) -> None:
    """``fresh_minute`` without blocking the event loop."""
    if wait := _left_if_short(margin):
        await asyncio.sleep(wait)
