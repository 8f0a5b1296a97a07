"""``FlagRegistry``: the flags this process serves, in memory, kept fresh by revision polling.

A call that names a feature reads the registry's memory, never the database: a poller started at the
first such call reads the store's revision number every ``flags.refresh_interval`` seconds (one
indexed row) and every flag again only when the number moved — so a flag changed anywhere (``keel
flags kill``) is served here within that interval plus one read. A call without a feature never
touches any of this.

While the database does not answer, the flags last read are served for ``flags.max_stale`` seconds
and each decision says how old they are (``stale``); after that, calls naming a feature are refused
(``FlagStoreUnavailableError``) — the prompts' stale rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._freshness import READ_TIMEOUT_S, Freshness
from ..errors import FlagConflictError, FlagNotFoundError, FlagStoreUnavailableError
from ..telemetry.logs import get_logger
from ..telemetry.metrics import flag_budget_offs
from .flag import Context, Decision, Flag
from .store import FlagSnapshot, FlagStore, open_flag_store

if TYPE_CHECKING:
    from ..config import Config, FlagsConfig

__all__ = ["FlagRegistry"]

log = get_logger("keel.flags")
_LIFETIME_S = 100 * 365 * 86400.0


class FlagRegistry:
    """The flags of one gateway, as last read from the database."""

    def __init__(self, config: Config, *, store: FlagStore | None = None) -> None:
        self.settings: FlagsConfig = config.flags
        self._database = config.database
        self._store = store
        self._snapshot: FlagSnapshot | None = None
        self._fresh = Freshness("flag store", log, "flags as last read are served for flags.max_stale")
        self._first: asyncio.Lock | None = None
        self._poller: asyncio.Task[None] | None = None
        self.notify: Callable[[dict[str, Any]], None] | None = None
        """Posts an alert event to the webhook; set by the gateway."""

    @property
    def store(self) -> FlagStore:
        if self._store is None:
            self._store = open_flag_store(self._database)
        return self._store

    async def decide(self, name: str, context: Context) -> Decision:
        """The variant of flag ``name`` for ``context``.

        Raises:
            FlagNotFoundError: no such flag.
            FlagStoreUnavailableError: the flags are older than ``flags.max_stale``.
        """
        snapshot = self._snapshot if self._poller is not None else await self._start()
        assert snapshot is not None
        stale = self._stale()
        flag = snapshot.flags.get(name)
        if flag is None:
            raise FlagNotFoundError(
                f"no feature flag named {name!r}; create one with: keel flags set {name} ...",
                param="feature",
            )
        decision = flag.evaluate(context)
        if stale is not None:
            decision = replace(decision, stale=stale)
        return decision

    def flag(self, name: str) -> Flag | None:
        """The flag as last read (None: not known here)."""
        return self._snapshot.flags.get(name) if self._snapshot is not None else None

    def _stale(self) -> float | None:
        settings = self.settings

        def unavailable(age: float) -> Exception:
            return FlagStoreUnavailableError(
                f"the flags' database has not answered for {age:.0f} s (flags.max_stale is "
                f"{settings.max_stale:g} s): flags are not served from a copy that old",
                retry_after=settings.refresh_interval,
            )

        return self._fresh.stale(settings.refresh_interval, settings.max_stale, unavailable)

    # Changes (the CLI and the admin API, and a budget turning its flag off).
    async def change(
        self, name: str, edit: Callable[[Flag | None], Flag | None], *, by: str, action: str
    ) -> Flag | None:
        """Apply ``edit`` to the flag as stored now, by compare-and-set (retried when another change
        lands first); the flag as stored after, served here at once."""
        for _ in range(5):
            snapshot = await self.store.snapshot()
            current = snapshot.flags.get(name)
            changed = edit(current)
            try:
                await self.store.put(
                    changed, name=name, expected=snapshot.revisions.get(name), by=by, action=action
                )
            except FlagConflictError:
                continue
            await self.refresh()
            return changed
        raise FlagConflictError(f"flag {name!r} kept changing; try again", param="name")

    async def exhaust(self, name: str, budget: str, retry_after: float | None) -> bool:
        """Turn flag ``name`` off until its budget's window ends; True when this process did (the
        compare-and-set makes exactly one replica do it, and only that one alerts)."""
        until = time.time() + (retry_after if retry_after is not None else _LIFETIME_S)
        snapshot = self._snapshot or await self.refresh()
        flag = snapshot.flags.get(name)
        if flag is None or flag.off_now() is not None:
            return False
        turned = flag.model_copy(update={"off_until": until, "off_reason": f"budget {budget!r} exhausted"})
        try:
            await self.store.put(
                turned,
                name=name,
                expected=snapshot.revisions.get(name),
                by=f"budget:{budget}",
                action="budget",
            )
        except FlagConflictError:  # changed meanwhile (by another replica, most likely): read it again
            await self.refresh()
            return False
        await self.refresh()
        event = {"alert": "flag_budget_exhausted", "flag": name, "budget": budget, "off_until": until}
        log.warning("feature flag turned off: its budget is exhausted", **event)
        flag_budget_offs.labels(flag=name, budget=budget).inc()
        if self.notify is not None:
            self.notify(event)
        return True

    # Freshness.
    async def refresh(self) -> FlagSnapshot:
        """Read every flag now (after a change made here, so it is served at once)."""
        snapshot = await self.store.snapshot()
        self._snapshot = snapshot
        self._fresh.synced()
        return snapshot

    async def start(self) -> None:
        """Read the database now rather than at the first call."""
        if self._poller is None:
            await self._start()

    async def _start(self) -> FlagSnapshot:
        if self._first is None:
            self._first = asyncio.Lock()
        async with self._first:
            if self._poller is None:
                try:
                    async with asyncio.timeout(READ_TIMEOUT_S):
                        await self.refresh()
                except Exception as error:
                    raise FlagStoreUnavailableError(
                        f"the flags' database cannot be read: {type(error).__name__}",
                        retry_after=self.settings.refresh_interval,
                    ) from None
                self._poller = asyncio.get_running_loop().create_task(self._poll(), name="keel-flags")
        assert self._snapshot is not None
        return self._snapshot

    async def _poll(self) -> None:
        def current() -> int:
            assert self._snapshot is not None
            return self._snapshot.revision

        await self._fresh.poll(
            lambda: self.settings.refresh_interval, self.store.revision, current, self.refresh
        )

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        if self._store is not None:
            await self._store.close()
