"""The admin API's prompts, behind the master key: what ``keel prompts`` does, over HTTP.

Mounted under ``/admin``::

    GET    /prompts                                   every prompt: versions, latest, labels
    GET    /prompts/{name}                            its versions, labels and label moves
    GET    /prompts/{name}/versions/{version}         one version
    GET    /prompts/{name}/diff?from=1&to=production  a unified diff (numbers or labels)
    GET    /prompts/{name}/stats?since=7d&baseline=1  keel prompts stats' report, as JSON
    POST   /prompts/{name}/versions                   a new version (JSON body; "label" points one at it)
    PUT    /prompts/{name}/labels/{label}             {"version": 3, "expected": 2}: compare-and-set;
                                                      {"split": {"3": 90, "4": 10}}: sticky A/B
    DELETE /prompts/{name}/labels/{label}             remove the label
    POST   /prompts/{name}/labels/{label}/rollback    back to the version before its last move

A change is made in the database and read back at once by this process; other processes and replicas
see it within ``prompts.refresh_interval``. A lost compare-and-set is a 409 ``prompt_label_conflict``.
Every move records who made it: ``admin``, or ``admin:<by>`` when the body says ``"by"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import KeelError
from ..prompts.catalog import Catalog, diff
from .admin import Handler, Refused, master_only

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["prompt_routes"]

_MAX_BODY = 256 * 1024
_UNSET = object()


def prompt_routes(gateway: Gateway, master_key: SecretStr | None) -> list[BaseRoute]:
    """The prompt routes, relative to where they are mounted."""
    registry = gateway.prompts

    async def catalog() -> Catalog:
        return await Catalog.read(registry.yaml, registry.store)

    async def list_prompts(request: Request) -> Response:
        return _json({"object": "list", "data": (await catalog()).summary()})

    async def show(request: Request) -> Response:
        name = request.path_params["name"]
        found = await catalog()
        versions = found.versions(name)
        if not versions:
            raise Refused(404, f"no prompt named {name!r}", "prompt_not_found", "name")
        moves = await registry.store.history(name, limit=100)
        return _json(
            {
                "name": name,
                "labels": found.labels(name),
                "versions": [found.describe(version) for version in versions.values()],
                "history": [move.public() for move in moves],
            }
        )

    async def show_version(request: Request) -> Response:
        name, number = request.path_params["name"], _number(request.path_params["version"])
        found = await catalog()
        return _json(found.describe(_keel(lambda: found.version(name, number))))

    async def diff_versions(request: Request) -> Response:
        name = request.path_params["name"]
        found = await catalog()

        def pick(which: str) -> Any:
            return found.version(name, int(which)) if which.isdigit() else found.version(name, label=which)

        old = request.query_params.get("from")
        if not old:
            raise Refused(400, "from= is required: a version number or a label", "invalid_parameter", "from")
        new = request.query_params.get("to", "latest")
        return _json({"diff": _keel(lambda: diff(pick(old), pick(new)))})

    async def create(request: Request) -> Response:
        name, body = request.path_params["name"], await _body(request)
        label = body.pop("label", None)
        by = _by(body.pop("by", None))
        found = await catalog()
        version, _ = await _kept(found.create(registry.store, name, body, by=by, label=label))
        await registry.refresh()
        return _json(found.describe(version) | {"labels": [label] if label else []}, 201)

    async def move(request: Request) -> Response:
        name, label, body = request.path_params["name"], request.path_params["label"], await _body(request)
        to: int | dict[int, float] | None
        if "split" in body:
            to = _split(body["split"])
        elif "version" in body:
            to = body["version"]
            if to is not None and (isinstance(to, bool) or not isinstance(to, int)):
                raise Refused(400, '"version" must be an integer or null', "invalid_parameter", "version")
        else:
            raise Refused(
                400,
                '"version" (null removes the label) or "split" is required',
                "invalid_parameter",
                "version",
            )
        expected = body.get("expected", _UNSET)
        if expected is not _UNSET and expected is not None and not isinstance(expected, int):
            raise Refused(400, '"expected" must be an integer or null', "invalid_parameter", "expected")
        found = await catalog()
        extra: dict[str, Any] = {} if expected is _UNSET else {"expected": expected}
        moved = await _kept(found.move(registry.store, name, label, to, by=_by(body.get("by")), **extra))
        await registry.refresh()
        return _json(moved.public())

    async def remove(request: Request) -> Response:
        name, label = request.path_params["name"], request.path_params["label"]
        found = await catalog()
        moved = await _kept(found.move(registry.store, name, label, None, by=_by(None)))
        await registry.refresh()
        return _json(moved.public())

    async def rollback(request: Request) -> Response:
        name, label = request.path_params["name"], request.path_params["label"]
        found = await catalog()
        moved = await _kept(found.rollback(registry.store, name, label, by=_by(None)))
        await registry.refresh()
        return _json(moved.public())

    async def stats(request: Request) -> Response:
        from ..prompts.stats import compare
        from ..reports import parse_since

        name, query = request.path_params["name"], request.query_params
        ledger = registry.ledger
        if getattr(ledger, "prompt_calls", None) is None:
            raise Refused(
                503, "prompt statistics need the ledger on SQLite or PostgreSQL", "ledger_unavailable"
            )
        try:
            since = parse_since(query.get("since"))
        except ValueError as error:
            raise Refused(400, str(error), "invalid_parameter", "since") from None
        baseline = query.get("baseline")
        if baseline is not None and not baseline.isdigit():
            raise Refused(400, "baseline is a version number", "invalid_parameter", "baseline")
        rows = await ledger.prompt_calls(name, since=since)
        feedback = await ledger.prompt_feedback(name, since=since)
        report = compare(rows, baseline=int(baseline) if baseline else None, feedback=feedback)
        return _json({"prompt": name, **report})

    handlers: list[tuple[str, str, Handler]] = [
        ("/prompts", "GET", list_prompts),
        ("/prompts/{name}", "GET", show),
        ("/prompts/{name}/versions/{version}", "GET", show_version),
        ("/prompts/{name}/diff", "GET", diff_versions),
        ("/prompts/{name}/stats", "GET", stats),
        ("/prompts/{name}/versions", "POST", create),
        ("/prompts/{name}/labels/{label}", "PUT", move),
        ("/prompts/{name}/labels/{label}", "DELETE", remove),
        ("/prompts/{name}/labels/{label}/rollback", "POST", rollback),
    ]
    return [
        Route(path, master_only(handler, master_key), methods=[method]) for path, method, handler in handlers
    ]


async def _kept(work: Any) -> Any:
    """``await work``, a prompt refusal turned into the admin API's error."""
    try:
        return await work
    except KeelError as error:
        raise Refused(error.status, error.message, error.code, getattr(error, "param", None)) from None


def _keel(work: Any) -> Any:
    try:
        return work()
    except KeelError as error:
        raise Refused(error.status, error.message, error.code, getattr(error, "param", None)) from None


def _split(value: Any) -> dict[int, float]:
    """``{"3": 90, "4": 10}``: percent by version."""
    if not isinstance(value, dict) or not value:
        raise Refused(
            400, '"split" must be an object of version: percent, like {"3": 90, "4": 10}', param="split"
        )
    weights: dict[int, float] = {}
    for version, weight in value.items():
        if not str(version).isdigit() or isinstance(weight, bool) or not isinstance(weight, int | float):
            raise Refused(400, f'"split": {version!r}: {weight!r} is not version: percent', param="split")
        weights[int(version)] = weight
    return weights


def _number(text: str) -> int:
    if not text.isdigit():
        raise Refused(400, f"a version is a number, not {text!r}", "invalid_parameter", "version")
    return int(text)


def _by(given: Any) -> str:
    return f"admin:{given}" if isinstance(given, str) and given else "admin"


async def _body(request: Request) -> dict[str, Any]:
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > _MAX_BODY:
            raise Refused(413, f"the request body is over {_MAX_BODY} bytes", "body_too_large")
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise Refused(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object")
    return data


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")
