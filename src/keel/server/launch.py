"""``launch``: what ``keel serve`` does — config and command-line overrides, the port, then a greeting
and serve.

Overrides go through the config's own validation, so ``--workers 2`` on in-memory state is refused
with the same message as ``server.workers: 2`` in ``keel.yaml``. The port is bound before the
greeting, so a taken port is the only thing said about it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config import Config, load_config
from ..errors import ConfigError

__all__ = ["greeting", "launch", "with_overrides"]


def with_overrides(config: Config, **server: Any) -> Config:
    """``config`` with ``server`` fields replaced (those given as None are left alone), re-validated.

    Raises:
        ConfigError: the result is invalid, e.g. several workers on in-memory state.
    """
    changes = {name: value for name, value in server.items() if value is not None}
    if not changes:
        return config
    raw = config.model_dump()
    raw["server"] = {**raw["server"], **changes}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "server"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {message}" if first["loc"] else message) from None


def greeting(config: Config) -> str:
    """How to call the server: the URL, the models, a curl line and the openai SDK's base_url."""
    server = config.server
    host = f"[{server.host}]" if ":" in server.host else server.host
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"
    base = f"http://{host}:{server.port}/v1"
    model = next(iter(config.models), "default")
    key = "$KEEL_MASTER_KEY" if server.master_key is not None else "any"
    auth = " -H 'authorization: Bearer $KEEL_MASTER_KEY'" if server.master_key is not None else ""
    return "\n".join(
        [
            f"keel serve: OpenAI-compatible gateway at {base} (models: {', '.join(config.models) or 'none'})",
            f"  curl {base}/chat/completions -H 'content-type: application/json'{auth} \\",
            f'    -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}\'',
            f'  openai.OpenAI(base_url="{base}", api_key="{key}")',
        ]
    )


def launch(
    config_path: Path | None,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_level: str = "info",
    echo: Callable[[str], Any] = lambda text: print(text, flush=True),
) -> None:
    """Load the config, apply the overrides, bind the port, greet, and serve until interrupted.

    Raises:
        ConfigError: the config (or an override) is invalid, or the port cannot be bound.
    """
    from .bind import bind
    from .run import serve

    config = with_overrides(load_config(config_path), host=host, port=port, workers=workers)
    logging.getLogger("keel").setLevel(log_level.upper())
    sockets = bind(config.server.host, config.server.port)
    echo(greeting(config))
    overrides = {"host": host, "port": port, "workers": workers}
    serve(config, config_path=config_path, overrides=overrides, log_level=log_level.lower(), sockets=sockets)
