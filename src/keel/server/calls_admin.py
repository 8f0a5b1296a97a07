"""The admin API for single calls' ledger records, behind the master key as the rest of ``/admin``.

``GET /admin/calls?limit=50`` answers the newest records, newest first; ``?request_id=…`` those of
one request (the ``x-request-id`` a client got). Each is the ledger's row as stored: attempts,
usage, cost, status, guards — and ``content``, the request and answer redacted, when
``capture.content`` was on for the call (docs/privacy.md). Nothing in a row is a secret or
personal data: user ids are pseudonyms, errors and content are redacted when the record is made.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..stores.state import open_ledger
from .admin import Refused, master_only

__all__ = ["call_routes"]

_MAX_LIMIT = 1000


def call_routes(database: str, master_key: SecretStr | None) -> list[BaseRoute]:
    """``/calls`` (GET), relative to where ``/admin`` is mounted."""

    async def calls(request: Request) -> Response:
        query = request.query_params
        raw = query.get("limit", "50")
        if not raw.isdigit() or not 0 < int(raw) <= _MAX_LIMIT:
            raise Refused(400, f"limit takes 1 to {_MAX_LIMIT}", "invalid_parameter", "limit")
        ledger: Any = open_ledger(database)
        try:
            rows = await ledger.rows(int(raw), request_id=query.get("request_id") or None)
        finally:
            await ledger.close()
        body = orjson.dumps({"object": "list", "data": rows}, default=str)
        return Response(body, media_type="application/json")

    return [Route("/calls", master_only(calls, master_key), methods=["GET"])]
