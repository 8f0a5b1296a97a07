"""The admin API for the response cache, behind the master key as the rest of ``/admin``.

``GET /admin/cache`` answers the backend's entries and bytes and this process's lookups (hits,
misses, semantic hits, backend errors), bytes stored and served, and coalesced calls.
``DELETE /admin/cache?model=M&key=K`` (or ``team=T``) clears the entries of one model and/or one
tenant — every entry with neither — and answers how many went.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .._cache import clear_cache, process_counts
from ..telemetry.logs import get_logger
from .admin import Refused, master_only

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["cache_routes"]

log = get_logger("keel.admin")


def cache_routes(gateway: Gateway, master_key: SecretStr | None) -> list[BaseRoute]:
    """``/cache`` (GET, DELETE), relative to where ``/admin`` is mounted."""

    async def stats(request: Request) -> Response:
        cache = gateway.cache
        body: dict[str, Any] = {"enabled": cache is not None, "process": process_counts()}
        if cache is not None:
            entries = await cache.entries.stats("cache:*")
            body.update(backend=cache.url.split("://")[0], entries=entries.entries, bytes=entries.bytes)
        return _json(body)

    async def clear(request: Request) -> Response:
        if gateway.cache is None:
            return _json({"deleted": 0})
        query = request.query_params
        try:
            deleted = await clear_cache(
                gateway.cache.entries, model=query.get("model"), key=query.get("key"), team=query.get("team")
            )
        except ValueError as error:
            raise Refused(400, str(error), "invalid_request") from None
        log.info("cache cleared", model=query.get("model"), key_id=query.get("key"), deleted=deleted)
        return _json({"deleted": deleted})

    return [
        Route("/cache", master_only(stats, master_key), methods=["GET"]),
        Route("/cache", master_only(clear, master_key), methods=["DELETE"]),
    ]


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), 200, media_type="application/json")
