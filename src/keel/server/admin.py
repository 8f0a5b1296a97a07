"""The admin API, behind the master key: virtual keys (create, list, show, revoke) and spend reports.

The server mounts these routes under ``/admin``::

    Mount("/admin", routes=admin_routes(keys, master_key, database=config.database))

``POST /admin/keys`` answers 201 with the new key's secret in ``key`` — the only time it is ever
shown — beside the record; every other answer carries the record alone (``VirtualKey.public``).
Pass the same store to ``authenticate`` so a revocation here takes effect at once in this process.
``GET /admin/usage`` answers what ``keel usage`` prints, as JSON or CSV, from the ledger in ``database``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..keys import looks_like_key, parse_duration, parse_timestamp
from ..reports import parse_since, render, spend
from ..stores.base import KeyStore
from ..stores.state import open_ledger
from ..telemetry.logs import get_logger
from .auth import is_master_key, presented_key
from .errors import error_body

__all__ = ["Refused", "admin_routes", "master_only"]

log = get_logger("keel.admin")

_MAX_BODY = 64 * 1024
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

Handler = Callable[[Request], Awaitable[Response]]


class _NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    team: StrictStr | None = None
    models: list[StrictStr] | None = None
    expires_at: StrictStr | None = Field(None, description="ISO 8601 date or time; UTC unless it says")
    expires_in: StrictInt | StrictStr | None = Field(None, description="seconds, or a duration as 30d")
    metadata: dict[str, StrictStr] | None = None


class Refused(Exception):
    """An admin request refused with ``status``; ``master_only`` answers it in OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def admin_routes(
    keys: KeyStore | None, master_key: SecretStr | None, *, database: str | None = None
) -> list[BaseRoute]:
    """The admin routes, relative to where they are mounted: ``/keys`` and ``/keys/{key_id}`` when
    there is a key store, ``/usage`` when there is a ledger ``database`` URL.

    Every route needs the master key (401 otherwise); with no master key configured, every route
    answers 403 saying how to set one. Bad input is a 400 that names the problem.
    """

    # Without a key store (``keel serve`` opens none when auth is off) the key routes still exist,
    # so they answer the guard's 403 that says how to turn the admin API on, not a bare 404.
    handlers = _key_handlers(keys) if keys is not None else _no_key_store_handlers()
    if database is not None:
        url = database

        async def usage(request: Request) -> Response:
            return await _usage(request, url)

        handlers.append(("/usage", "GET", usage))
    return [
        Route(path, master_only(handler, master_key), methods=[method]) for path, method, handler in handlers
    ]


def master_only(handler: Handler, master_key: SecretStr | None) -> Handler:
    """``handler`` behind the master key: 401 without it, 403 (``admin_disabled``) when none is
    configured; a ``Refused`` raised inside becomes its status in OpenAI's error shape."""

    async def endpoint(request: Request) -> Response:
        try:
            _check_master(request, master_key)
            return await handler(request)
        except Refused as refused:
            headers = {"www-authenticate": "Bearer"} if refused.status == 401 else None
            body = error_body(refused.message, "invalid_request_error", refused.code, refused.param)
            return Response(body, refused.status, headers, media_type="application/json")

    return endpoint


def _no_key_store_handlers() -> list[tuple[str, str, Handler]]:
    async def refuse(request: Request) -> Response:
        raise Refused(
            403, "virtual keys need a key store: this server was started without one", "admin_disabled"
        )

    return [
        ("/keys", "POST", refuse),
        ("/keys", "GET", refuse),
        ("/keys/{key_id}", "GET", refuse),
        ("/keys/{key_id}", "DELETE", refuse),
    ]


def _key_handlers(keys: KeyStore) -> list[tuple[str, str, Handler]]:
    async def create(request: Request) -> Response:
        spec = await _new_key(request)
        try:
            record, secret = await keys.create(
                spec.name,
                team=spec.team,
                models=spec.models,
                expires_at=_expires_at(spec),
                metadata=spec.metadata,
            )
        except ValueError as error:
            raise Refused(400, str(error), "invalid_key_field") from None
        log.info("virtual key created", key_id=record.id, name=record.name, team=record.team)
        return _json({**record.public(), "key": secret}, 201)

    async def list_keys(request: Request) -> Response:
        team = request.query_params.get("team") or None
        flag = request.query_params.get("include_revoked", "false").lower()
        if flag not in _BOOLEANS:
            raise Refused(400, "include_revoked must be true or false", param="include_revoked")
        records = await keys.list(team=team, include_revoked=_BOOLEANS[flag])
        return _json({"object": "list", "data": [record.public() for record in records]})

    async def show(request: Request) -> Response:
        key_id = request.path_params["key_id"]
        record = await keys.get(key_id)
        if record is None:
            raise _not_found(key_id)
        return _json(record.public())

    async def revoke(request: Request) -> Response:
        key_id = request.path_params["key_id"]
        if not await keys.revoke(key_id):
            raise _not_found(key_id)
        record = await keys.get(key_id)
        log.info("virtual key revoked", key_id=key_id)
        return _json(record.public() if record else {"id": key_id, "status": "revoked"})

    return [
        ("/keys", "POST", create),
        ("/keys", "GET", list_keys),
        ("/keys/{key_id}", "GET", show),
        ("/keys/{key_id}", "DELETE", revoke),
    ]


async def _usage(request: Request, database: str) -> Response:
    """``GET /usage?by=key,model&since=7d&until=2026-12-01&format=json|csv``: ``keel usage``'s report."""
    query = request.query_params
    by = [name.strip() for name in query.get("by", "model").split(",") if name.strip()]
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Refused(400, f"format takes json or csv, not {fmt!r}", "invalid_parameter", "format")
    bounds: dict[str, float | None] = {}
    for name in ("since", "until"):
        try:
            bounds[name] = parse_since(query.get(name))
        except ValueError:
            raise Refused(
                400,
                f"{name} takes 7d, 24h, 2w, 1m or a date like 2026-11-01, not {query.get(name)!r}",
                "invalid_parameter",
                name,
            ) from None
    ledger = open_ledger(database)
    try:
        rows = await spend(ledger, by, since=bounds["since"], until=bounds["until"])
    except ValueError as error:  # a grouping the ledger does not know
        raise Refused(400, str(error), "invalid_parameter", "by") from None
    finally:
        await ledger.close()
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(render(rows, by, fmt), 200, media_type=media)  # type: ignore[arg-type]


def _check_master(request: Request, master_key: SecretStr | None) -> None:
    if master_key is None:
        raise Refused(
            403,
            "the admin API is off because no master key is set: set KEEL_MASTER_KEY "
            "(or server.master_key in keel.yaml) and restart",
            "admin_disabled",
        )
    given = presented_key(request.headers)
    if not given or not is_master_key(given, master_key):
        raise Refused(
            401, "admin endpoints need the master key as 'Authorization: Bearer <key>'", "invalid_api_key"
        )


async def _new_key(request: Request) -> _NewKey:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY:
        raise Refused(413, f"the request body is over {_MAX_BODY} bytes", "body_too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > _MAX_BODY:
            raise Refused(413, f"the request body is over {_MAX_BODY} bytes", "body_too_large")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused(400, 'the body is not valid JSON; send an object like {"name": "ci"}') from None
    if not isinstance(data, dict):
        raise Refused(400, 'the body must be a JSON object like {"name": "ci"}')
    try:
        return _NewKey.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise Refused(400, f"{where}: {message}", "invalid_key_field", where.split(".")[0]) from None


def _expires_at(spec: _NewKey) -> datetime | None:
    if spec.expires_at is not None and spec.expires_in is not None:
        raise Refused(400, "give expires_at or expires_in, not both", "invalid_key_field", "expires_in")
    try:
        if spec.expires_at is not None:
            return parse_timestamp(spec.expires_at)
        if isinstance(spec.expires_in, int):
            if spec.expires_in <= 0:
                raise ValueError("expires_in must be a positive number of seconds")
            return datetime.now(UTC) + parse_duration(f"{spec.expires_in}s")
        if spec.expires_in is not None:
            return datetime.now(UTC) + parse_duration(spec.expires_in)
    except ValueError as error:
        raise Refused(400, str(error), "invalid_key_field", _expiry_field(spec)) from None
    except OverflowError:
        field = _expiry_field(spec)
        raise Refused(400, f"{field} is too far in the future", "invalid_key_field", field) from None
    return None


def _expiry_field(spec: _NewKey) -> str:
    return "expires_at" if spec.expires_at is not None else "expires_in"


def _not_found(key_id: str) -> Refused:
    if looks_like_key(key_id):  # a secret pasted where its id belongs: do not echo it
        return Refused(
            404, "that is a key, not a key id; ids look like key_0123456789abcdef", "key_not_found"
        )
    return Refused(404, f"no virtual key with id {key_id!r}", "key_not_found")


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")
