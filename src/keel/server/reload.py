"""``Reloader``: load ``keel.yaml`` again into a running server, on SIGHUP, on ``POST /admin/reload``,
or when the file changes (``server.watch_config``).

The new config is loaded and built completely before anything changes (``Gateway.reconfigure``); a
config that is invalid, or that changes a key only a restart applies (``config_changes``), is
refused and the old one stays in force. A reload is logged once, with the changed keys by name.

Under a supervisor (``keel serve --workers N``) the supervisor owns SIGHUP and the file watch: it
validates the file once and signals every worker, and a worker reloads quietly, then reports its
result through ``WorkerFanout`` so that the worker answering ``POST /admin/reload`` can say how many
applied it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config import Config, load_config
from ..errors import ConfigError
from ..telemetry.logs import get_logger
from ..telemetry.metrics import config_reloads
from .config_watch import ConfigWatch
from .launch import with_overrides

if TYPE_CHECKING:
    from .reload_fanout import WorkerFanout

__all__ = ["Origin", "Reloader", "config_file"]

log = get_logger("keel.reload")

Origin = Literal["signal", "admin", "watch", "supervisor"]


def config_file(source: Path | None) -> Path | None:
    """The file a reload reads: ``source``, else what ``load_config`` would find (``$KEEL_CONFIG``,
    ``./keel.yaml``); None when the server runs on the defaults."""
    if source is not None:
        return source
    found = os.environ.get("KEEL_CONFIG") or ("keel.yaml" if Path("keel.yaml").exists() else None)
    return Path(found) if found else None


class Reloader:
    """Reloads the config of one server process into its app."""

    def __init__(
        self,
        apply: Callable[[Config], list[str]],
        source: Path | None,
        *,
        overrides: dict[str, Any] | None = None,
        signals: bool = False,
        fanout: WorkerFanout | None = None,
    ) -> None:
        """
        Args:
            apply: swaps a validated config in (``KeelApp.apply_config``); returns the changed keys.
            source: the ``keel.yaml`` the server started from (None: found as at start).
            overrides: ``server`` fields the command line set (``--port``), applied to every reload.
            signals: reload on SIGHUP (``keel serve``; not for an app embedded in another server).
            fanout: set in a worker under a supervisor: how results reach the worker that was asked.
        """
        self._apply = apply
        self.source = source
        self.overrides = overrides or {}
        self.signals = signals
        self.fanout = fanout
        self._watching: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def load(self) -> Config:
        """The config a reload would apply, validated, with the command line's overrides.

        Raises:
            ConfigError: naming the field.
        """
        return with_overrides(load_config(self.source), **self.overrides)

    def reload(self, origin: Origin) -> list[str]:
        """Load and apply the config; the changed keys. Under a supervisor a worker reloads quietly:
        the supervisor has logged it.

        Raises:
            ConfigError: the config is refused (``RestartNeededError`` for a key needing a restart);
                the old one stays in force.
        """
        try:
            changes = self._apply(self.load())
        except ConfigError as error:
            config_reloads.labels(result="refused").inc()
            log.error(
                "config reload refused; the running config stays in force", origin=origin, error=str(error)
            )
            raise
        config_reloads.labels(result="applied" if changes else "unchanged").inc()
        if origin == "supervisor":
            log.debug("config reloaded", origin=origin, changed=changes, pid=os.getpid())
        else:
            log.info(
                "config reloaded" if changes else "config reloaded: nothing changed",
                origin=origin,
                changed=changes,
            )
        return changes

    async def start(self, settings_watch: bool, interval: float) -> None:
        """Take SIGHUP (when ``signals``) and start the file watch (when asked and not supervised)."""
        if self.signals:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_hup)
            # ``keel serve`` keeps SIGHUP blocked until here, so one sent during start-up waits
            # for this handler instead of ending the process.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        self.watch(settings_watch, interval)

    def watch(self, enabled: bool, interval: float) -> None:
        """Watch the config file every ``interval`` seconds, or stop watching."""
        if self._watching is not None:
            self._watching.cancel()
            self._watching = None
        path = config_file(self.source)
        if enabled and path is not None and self.fanout is None:
            self._watching = asyncio.get_running_loop().create_task(
                self._watch(ConfigWatch(path), interval), name="keel-config-watch"
            )

    async def _watch(self, watch: ConfigWatch, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if watch.changed():
                with contextlib.suppress(ConfigError):
                    self.reload("watch")

    def _on_hup(self) -> None:
        task = asyncio.get_running_loop().create_task(self._hup(), name="keel-reload")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hup(self) -> None:
        origin: Origin = "supervisor" if self.fanout is not None else "signal"
        try:
            self.reload(origin)
            result = "applied"
        except ConfigError:
            result = "refused"
        if self.fanout is not None:
            await self.fanout.report(result)

    async def stop(self) -> None:
        if self.signals:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        if self._watching is not None:
            self._watching.cancel()
        if self.fanout is not None:
            await self.fanout.aclose()
