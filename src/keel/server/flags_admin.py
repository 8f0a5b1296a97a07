"""The admin API's feature flags, behind the master key: what ``keel flags`` does, over HTTP.

Mounted under ``/admin``::

    GET  /flags                         every flag and its state
    GET  /flags/{name}                  one flag and its changes (who, when, what)
    PUT  /flags/{name}                  create it, or change the fields the body gives
    POST /flags/{name}/rollout          {"rollout": {"new": 10}}: sticky percentages
    POST /flags/{name}/kill             off on every replica within flags.refresh_interval
    POST /flags/{name}/enable           on again (after a kill, or its budget)
    GET  /flags/{name}/stats            keel flags stats' report, as JSON
    GET  /flags/{name}/evaluate         the variant a caller gets: ?user=&key=&team=&attr.<name>=
                                        (what Keel's OpenFeature provider asks, against keel serve)

A change is made in the database and read back at once by this process; other processes see it
within ``flags.refresh_interval``. Every change records who made it: ``admin``, or ``admin:<by>``.
With ``flags.provider`` (an OpenFeature provider decides), only ``evaluate`` answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import KeelError
from ..flags import edits
from ..flags.flag import Context
from ..flags.registry import FlagRegistry
from .admin import Handler, Refused, master_only
from .prompts_admin import _body, _by, _json

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["flag_routes"]


def flag_routes(gateway: Gateway, master_key: SecretStr | None) -> list[BaseRoute]:
    """The flag routes, relative to where they are mounted."""

    def registry() -> FlagRegistry:
        flags = gateway.flags
        if not isinstance(flags, FlagRegistry):
            raise Refused(409, "flags come from an OpenFeature provider (flags.provider), not the database")
        return flags

    async def list_flags(request: Request) -> Response:
        snapshot = await _kept(registry().refresh())
        return _json({"object": "list", "data": [snapshot.flags[n].public() for n in sorted(snapshot.flags)]})

    async def show(request: Request) -> Response:
        name, flags = request.path_params["name"], registry()
        snapshot = await _kept(flags.refresh())
        flag = snapshot.flags.get(name)
        if flag is None:
            raise Refused(404, f"no feature flag named {name!r}", "flag_not_found", "name")
        changes = await flags.store.history(name, limit=100)
        return _json({**flag.public(), "history": [change.public() for change in changes]})

    async def change(request: Request, edit: Any, action: str, by: Any = None) -> Response:
        name = request.path_params["name"]
        flag = await _kept(registry().change(name, edit, by=_by(by), action=action))
        return _json(flag.public())

    async def put(request: Request) -> Response:
        name, body = request.path_params["name"], await _body(request)
        by = body.pop("by", None)
        return await change(request, edits.set_spec(name, body), "set", by)

    async def rollout(request: Request) -> Response:
        name, body = request.path_params["name"], await _body(request)
        weights = body.get("rollout")
        if not isinstance(weights, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in weights.values()
        ):
            raise Refused(
                400, '"rollout" must be an object of variant: percent', "invalid_parameter", "rollout"
            )
        text = ",".join(f"{k}:{v:g}" for k, v in weights.items())
        return await change(request, edits.rollout(name, weights), f"rollout {text}", body.get("by"))

    async def kill(request: Request) -> Response:
        return await change(request, edits.kill(request.path_params["name"]), "kill")

    async def enable(request: Request) -> Response:
        return await change(request, edits.enable(request.path_params["name"]), "enable")

    async def stats(request: Request) -> Response:
        from ..flags.report import flag_report
        from ..reports import parse_since

        ledger = gateway.ledger.store if gateway.ledger is not None else None
        try:
            since = parse_since(request.query_params.get("since"))
            report = await flag_report(
                ledger,
                request.path_params["name"],
                since=since,
                baseline=request.query_params.get("baseline"),
            )
        except ValueError as error:
            raise Refused(400, str(error), "invalid_parameter") from None
        return _json(report)

    async def evaluate(request: Request) -> Response:
        query = request.query_params
        context = Context(
            key=query.get("key"),
            team=query.get("team"),
            user=query.get("user"),
            attributes={k.removeprefix("attr."): v for k, v in query.items() if k.startswith("attr.")},
        )
        name = request.path_params["name"]
        decision = await _kept(gateway.flags.decide(name, context))
        settings = decision.settings.model_dump(mode="json") if decision.settings is not None else None
        return _json(
            {
                "flag": name,
                "variant": decision.variant,
                "reason": decision.reason,
                "off": decision.off,
                "value": settings,
                "stale": decision.stale,
            }
        )

    handlers: list[tuple[str, str, Handler]] = [
        ("/flags", "GET", list_flags),
        ("/flags/{name}", "GET", show),
        ("/flags/{name}", "PUT", put),
        ("/flags/{name}/rollout", "POST", rollout),
        ("/flags/{name}/kill", "POST", kill),
        ("/flags/{name}/enable", "POST", enable),
        ("/flags/{name}/stats", "GET", stats),
        ("/flags/{name}/evaluate", "GET", evaluate),
    ]
    return [
        Route(path, master_only(handler, master_key), methods=[method]) for path, method, handler in handlers
    ]


async def _kept(work: Any) -> Any:
    """``await work``, a flag refusal turned into the admin API's error."""
    try:
        return await work
    except KeelError as error:
        raise Refused(error.status, error.message, error.code, getattr(error, "param", None)) from None
