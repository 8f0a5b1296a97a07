"""What a scrape returns: this process's registry, or every worker's under ``keel serve --workers N``.

An application using the library mounts ``metrics_app()`` (an ASGI app) or renders ``scrape()``
itself; ``keel serve`` answers ``GET /metrics`` with it.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .metrics import REGISTRY

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "metrics_app", "scrape", "scraped_registry"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def scraped_registry() -> CollectorRegistry:
    """Keel's registry; in multiprocess mode a registry that reads every process's files."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def scrape() -> bytes:
    """Keel's metrics in Prometheus's text format."""
    return generate_latest(scraped_registry())


def metrics_app() -> Any:
    """An ASGI app serving ``scrape()``, for an application to mount (``app.mount("/metrics", …)``)."""
    from prometheus_client import make_asgi_app

    return make_asgi_app(scraped_registry())
