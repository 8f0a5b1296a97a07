"""``KeelSupervisor``: uvicorn's worker supervisor, with reloads that swap config inside the workers.

uvicorn's supervisor restarts every worker on SIGHUP. Keel's instead validates the config once (so
a bad file is logged once, not once per worker), refuses a change only a restart applies, and sends
SIGHUP to each worker, which swaps its config in place: no worker process is replaced and no call
is dropped. SIGUSR1 (from a worker asked through ``POST /admin/reload``, which has validated and
applied the config already) is passed on the same way without a second log line. With
``server.watch_config`` the supervisor looks at the file every ``server.watch_interval`` seconds (at
most as often as its loop turns, every 0.5 s) and reloads when it changed.

Workers are started with SIGHUP blocked, and unblock it once their handler is installed
(``Reloader.start``): a reload sent while a worker starts waits for it instead of ending it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from socket import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from .._generation import check_config
from ..config import Config
from ..config_changes import changed_keys, check_reloadable
from ..errors import ConfigError
from ..telemetry.logs import get_logger
from ..telemetry.metrics import config_reloads
from .config_watch import ConfigWatch
from .reload import Reloader, config_file
from .reload_fanout import SUPERVISOR_ENV

__all__ = ["KeelSupervisor", "hup_blocked"]

log = get_logger("keel.reload")


@contextlib.contextmanager
def hup_blocked() -> Iterator[None]:
    """SIGHUP held back in this thread (and in any process started meanwhile, which inherits the
    mask), delivered when the block ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})


class KeelSupervisor(Multiprocess):
    """Runs ``server.workers`` worker processes; reloads their config without restarting them."""

    def __init__(
        self,
        settings: uvicorn.Config,
        sockets: list[socket],
        *,
        config: Config,
        source: Path | None,
        overrides: dict[str, Any],
    ) -> None:
        super().__init__(settings, sockets)
        os.environ[SUPERVISOR_ENV] = str(os.getpid())
        self.keel_config = config
        self._loader = Reloader(lambda config: [], source, overrides=overrides)
        self._watch: ConfigWatch | None = None
        self._looked = 0.0
        self._watch_file(config)

    def _watch_file(self, config: Config) -> None:
        path = config_file(self._loader.source)
        if not config.server.watch_config or path is None:
            self._watch = None
        elif self._watch is None or self._watch.path != path:
            self._watch = ConfigWatch(path)

    def init_processes(self) -> None:
        with hup_blocked():
            super().init_processes()

    def keep_subprocess_alive(self) -> None:
        before = {process.pid for process in self.processes}
        with hup_blocked():
            super().keep_subprocess_alive()
        gone = before - {process.pid for process in self.processes}
        if gone and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            for pid in gone:  # a replaced worker's live gauges (in flight, queue depth) leave the totals
                if pid is not None:
                    multiprocess.mark_process_dead(pid)

    def handle_signals(self) -> None:
        super().handle_signals()
        now = time.monotonic()
        if self._watch is not None and now - self._looked >= self.keel_config.server.watch_interval:
            self._looked = now
            if self._watch.changed():
                self._reload("watch")

    def handle_hup(self) -> None:
        self._reload("signal")

    def handle_usr1(self) -> None:
        """A worker applied a reload asked through the admin API: the others follow."""
        self._signal_workers()

    def _reload(self, origin: str) -> None:
        try:
            config = self._loader.load()
            changes = changed_keys(self.keel_config, config)
            check_reloadable(changes)
            check_config(config)
        except ConfigError as error:
            config_reloads.labels(result="refused").inc()
            log.error(
                "config reload refused; the running config stays in force", origin=origin, error=str(error)
            )
            return
        self.keel_config = config
        self._watch_file(config)
        log.info(
            "config reloaded" if changes else "config reloaded: nothing changed",
            origin=origin,
            changed=changes,
            workers=len(self.processes),
        )
        self._signal_workers()

    def _signal_workers(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)
