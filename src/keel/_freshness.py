"""``Freshness``: a copy of a database's state kept fresh by polling its revision number, and the
stale rule while the database does not answer — shared by the prompts' and the flags' registries.

The poller reads one number (the store's revision) every ``refresh_interval`` seconds and the whole
state only when it moved. While reads fail, the state last read is served for ``max_stale`` seconds,
each answer told its age; after that the caller's ``unavailable`` error is raised rather than serve
a copy that old.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Freshness"]

READ_TIMEOUT_S = 2.0


class Freshness:
    """When the state was last known current, and since when the database has been away."""

    def __init__(self, what: str, log: Any, served: str) -> None:
        self.what = what
        self.log = log
        self.served = served
        """What is served while away, for the log line (``labels as last read …``)."""
        self.synced_at = 0.0
        self.away_since: float | None = None

    def synced(self) -> None:
        """The state is current (just read, or its revision did not move)."""
        self.synced_at = time.monotonic()
        if self.away_since is not None:
            self.log.warning(
                f"{self.what} reachable again", outage_s=round(self.synced_at - self.away_since, 3)
            )
            self.away_since = None

    def away(self, error: BaseException) -> None:
        if self.away_since is None:
            self.away_since = time.monotonic()
            self.log.warning(
                f"{self.what} unreachable: {self.served}",
                error=type(error).__name__,
            )

    def stale(
        self, refresh_interval: float, max_stale: float, unavailable: Callable[[float], Exception]
    ) -> float | None:
        """The state's age when the database is away (None when it answers).

        Raises:
            the error ``unavailable(age)`` makes: the state is older than ``max_stale``.
        """
        age = time.monotonic() - self.synced_at
        if self.away_since is None or age <= refresh_interval:
            return None
        if age > max_stale:
            raise unavailable(age)
        return age

    async def poll(
        self,
        interval: Callable[[], float],
        revision: Callable[[], Awaitable[int]],
        current: Callable[[], int],
        refresh: Callable[[], Awaitable[Any]],
        after: Callable[[], Awaitable[None]] | None = None,
        kept: tuple[type[Exception], ...] = (),
    ) -> None:
        """Forever: every ``interval()`` seconds, ``refresh()`` when ``revision()`` differs from
        ``current()``; then ``after()``. An error of ``kept`` means the database answered (the
        state read before is kept, the error logged); any other, that it is away."""
        while True:
            await asyncio.sleep(interval())
            try:
                async with asyncio.timeout(READ_TIMEOUT_S):  # a hung connection counts as away
                    if await revision() != current():
                        await refresh()
                    else:
                        self.synced()
                if after is not None:
                    await after()
            except asyncio.CancelledError:
                raise
            except kept as error:
                self.synced_at = time.monotonic()
                self.log.error(f"{self.what}: the state read before is kept", error=str(error))
            except Exception as error:
                self.away(error)
