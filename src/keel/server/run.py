"""``serve``: run the app under uvicorn (uvloop, httptools) and shut down gracefully.

On SIGTERM or Ctrl-C uvicorn stops accepting, lets in-flight calls and streams finish within
``server.drain_timeout`` seconds (cancelling what is left after that), then runs the app's
shutdown, which closes the gateway. Several workers are separate processes, each building its app
from the same config (``app_factory``); they need shared state (``state: redis://…``), which the
config refuses to do without.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

import uvicorn

from ..config import Config, load_config
from ..telemetry.logs import plain_handlers
from ..telemetry.multiproc import prepare_multiproc_dir
from ..telemetry.turn_handler import use_loop_turn_handlers
from .app import KeelApp, create_app
from .protocol import KeelHttpProtocol

__all__ = ["app_factory", "lean_log_records", "open_keys", "serve", "uvicorn_config"]

CONFIG_ENV = "KEEL_CONFIG"
LOG_LEVEL_ENV = "KEEL_LOG_LEVEL"
OVERRIDES_ENV = "KEEL_SERVER_OVERRIDES"


def uvicorn_config(app: Any, config: Config, *, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's settings for Keel: uvloop, httptools with receipt stamps, Keel's own access log."""
    server = config.server
    return uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        workers=server.workers,
        factory=isinstance(app, str),
        loop="uvloop",
        http=KeelHttpProtocol,
        lifespan="on",
        timeout_graceful_shutdown=max(1, round(server.drain_timeout)),
        access_log=False,  # Keel writes its own, structured and without secrets
        proxy_headers=False,  # Keel never reads the client's address: no X-Forwarded-* middleware
        server_header=False,
        date_header=False,
        log_level=log_level,
    )


def serve(
    config: Config,
    *,
    config_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    log_level: str = "info",
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve until interrupted, on ``sockets`` when given (bound by ``bind``), else on
    ``server.host:server.port``; reload the config on SIGHUP (``server.reload``).

    With ``server.workers`` > 1, each worker process loads the config from ``config_path`` (or the
    defaults) itself, with the command line's ``overrides`` of ``server`` fields.
    """
    from .reload import Reloader

    lean_log_records()
    if config.logging.format == "json":
        plain_handlers()
    overrides = {name: value for name, value in (overrides or {}).items() if value is not None}
    if config.server.workers > 1:
        from .supervisor import KeelSupervisor

        if config_path is not None:
            config_path = config_path.resolve()
            os.environ[CONFIG_ENV] = str(config_path)
        os.environ[LOG_LEVEL_ENV] = log_level
        os.environ[OVERRIDES_ENV] = json.dumps(overrides)
        prepare_multiproc_dir()  # one scrape shows every worker (docs/metrics.md)
        settings = uvicorn_config(f"{__name__}:app_factory", config, log_level=log_level)
        gc.enable()
        supervisor = KeelSupervisor(
            settings,
            sockets or [settings.bind_socket()],
            config=config,
            source=config_path,
            overrides=overrides,
        )
        supervisor.run()
        return
    from ..gateway import Gateway

    app = create_app(Gateway(config), keys=open_keys(config))
    app.reloader = Reloader(app.apply_config, config_path, overrides=overrides, signals=True)
    # ``keel serve`` imports and builds with the collector off (cli.serve); the app's lifespan then
    # collects once and freezes what start-up built.
    gc.enable()
    uvicorn.Server(uvicorn_config(app, config, log_level=log_level)).run(sockets=sockets)


def app_factory() -> KeelApp:
    """The app of one worker process, from ``$KEEL_CONFIG`` (or ``./keel.yaml``, or the defaults)."""
    from ..gateway import Gateway

    # A worker is a fresh interpreter: it sets up Keel's logging as the ``keel`` command does.
    logging.basicConfig(level=logging.WARNING, format="keel: %(levelname)s %(message)s")
    logging.getLogger("keel").setLevel(os.environ.get(LOG_LEVEL_ENV, "info").upper())
    lean_log_records()

    from .launch import with_overrides
    from .reload import Reloader
    from .reload_fanout import WorkerFanout

    source = os.environ.get(CONFIG_ENV)
    overrides = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    config = with_overrides(load_config(source), **overrides)
    if config.logging.format == "json":
        plain_handlers()
    app = create_app(Gateway(config), keys=open_keys(config))
    fanout = WorkerFanout.from_environment(config.state, config.server.workers)
    path = Path(source) if source else None
    app.reloader = Reloader(app.apply_config, path, overrides=overrides, signals=True, fanout=fanout)
    return app


def lean_log_records() -> None:
    """Keel's server log format names no process, thread or process name: stop the standard library
    looking them up for every record (a system call and two lookups per access line); and write the
    lines of each event-loop turn together (``LoopTurnHandler``)."""
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    use_loop_turn_handlers()


def open_keys(config: Config) -> Any:
    """The virtual-key store of ``database:`` when auth is on (a master key is set), else None."""
    if config.server.master_key is None:
        return None
    from ..stores.state import open_key_store

    return open_key_store(config.database, grace=config.server.key_grace)
