"""Structured logs through the standard library, with secrets redacted before rendering.

Keel is a library first, so it renders its events with structlog and hands them to a stdlib
``logging`` logger named ``keel.*``: the application decides where they go and at what level.
Modules create their loggers at import; structlog itself (which loads its console renderers and
rich) is imported when the first event is logged, so a quiet start-up never pays for it. Events
render as ``key=value`` lines, or with ``logging.format: json`` (``set_format``) as one JSON object
a line with its level, logger and UTC timestamp.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

__all__ = ["get_logger", "json_lines", "mask_secret_values", "plain_handlers", "redact_secrets", "set_format"]

_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|token(?!s)|secret|password|cookie)", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|sk-ant-[A-Za-z0-9_\-]{8,}|Bearer\s+\S+)")
_MASK = "***"

_format = {"json": False}


def set_format(name: str) -> None:
    """Render every Keel event from now on as ``kv`` (key=value) or ``json`` lines, process-wide."""
    _format["json"] = name == "json"


def json_lines() -> bool:
    """Whether Keel's log lines are JSON objects."""
    return _format["json"]


def plain_handlers() -> None:
    """``keel serve`` with JSON lines: the root handlers write the message alone (no ``keel: INFO``
    prefix), so each line parses as JSON."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter("%(message)s"))


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values under secret-looking keys, and key-shaped strings anywhere."""
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and key != "event":
            event[key] = _MASK
        elif isinstance(value, str):
            event[key] = _SECRET_VALUES.sub(_MASK, value)
    return event


def mask_secret_values(text: str) -> str:
    """``text`` with key-shaped strings masked (a cheap search first: most lines have none)."""
    return _SECRET_VALUES.sub(_MASK, text) if _SECRET_VALUES.search(text) else text


def get_logger(name: str) -> Any:
    """A structlog logger that renders ``key=value`` lines into the stdlib logger ``name``, built on
    first use."""
    return _LazyLogger(name)


class _LazyLogger:
    """Stands for ``_structlog_logger(name)`` and builds it when a method is first looked up."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._logger is None:
            self._logger = _structlog_logger(self._name)
        return getattr(self._logger, attribute)


def _structlog_logger(name: str) -> Any:
    import structlog

    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.stdlib.filter_by_level, redact_secrets, _Renderer()],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


class _Renderer:
    """``key=value`` or, with ``set_format("json")``, structlog's JSON renderer (through orjson)."""

    def __init__(self) -> None:
        import orjson
        import structlog

        self.kv = structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=True)
        self.json = structlog.processors.JSONRenderer(
            serializer=lambda event, **_: orjson.dumps(event, default=str).decode()
        )
        self.stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
        self.level = structlog.stdlib.add_log_level
        self.logger = structlog.stdlib.add_logger_name

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        if not _format["json"]:
            return self.kv(logger, method, event)
        event = self.logger(logger, method, self.level(logger, method, self.stamp(logger, method, event)))
        return self.json(logger, method, event)
