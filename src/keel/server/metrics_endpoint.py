"""``GET /metrics``: Prometheus's text format, every worker's values under ``--workers N``.

Open by default, as exporters are (it carries no secret and no prompt); ``metrics.require_key``
asks for the master key. Off (404) with ``metrics.enabled: false``.
"""

from __future__ import annotations

from ..telemetry.exposition import CONTENT_TYPE, scrape
from .auth import is_master_key, presented_key
from .context import ApiContext
from .errors import ApiError
from .exchange import Exchange

__all__ = ["metrics"]


async def metrics(ctx: ApiContext, ex: Exchange) -> None:
    """The scrape, or 401 when ``metrics.require_key`` is set and the master key is not presented."""
    settings = ctx.gateway.config.metrics
    if not settings.enabled:
        raise ApiError(404, "metrics are off (metrics.enabled: false)", code="not_found")
    if settings.require_key:
        given = presented_key(ex.headers)
        master_key = ctx.settings.master_key
        if given is None or master_key is None or not is_master_key(given, master_key):
            raise ApiError(
                401,
                "GET /metrics needs the master key (metrics.require_key)",
                code="invalid_api_key",
                headers=[(b"www-authenticate", b'Bearer realm="keel"')],
            )
    body = scrape()
    ex.status = 200
    await ex.send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await ex.send({"type": "http.response.body", "body": body})
