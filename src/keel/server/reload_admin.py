"""``POST /admin/reload``, behind the master key: load ``keel.yaml`` again into the running server.

It answers 200 with the keys that changed (names, never values) and how many workers applied the
config; 400 with the message when the config is refused (``invalid_config``: the field is named;
``restart_required``: a key only a restart applies), the old config staying in force.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..config_changes import RestartNeededError
from ..errors import ConfigError
from ..telemetry.logs import get_logger
from .admin import Refused, master_only

if TYPE_CHECKING:
    from pydantic import SecretStr

    from .app import KeelApp

__all__ = ["reload_routes"]

log = get_logger("keel.reload")


def reload_routes(app: KeelApp, master_key: SecretStr | None) -> list[BaseRoute]:
    """``/reload`` (POST), relative to where ``/admin`` is mounted."""

    async def reload(request: Request) -> Response:
        reloader = app.reloader
        if reloader is None:
            raise Refused(
                409,
                "this app was not started by keel serve, so it has no keel.yaml to reload from; "
                "call Gateway.reconfigure from the program that embeds it",
                "reload_unavailable",
            )
        try:
            changes = reloader.reload("admin")
        except RestartNeededError as error:
            raise Refused(400, str(error), "restart_required") from None
        except ConfigError as error:
            raise Refused(400, str(error), "invalid_config") from None
        workers: dict[str, Any] = {"total": 1, "applied": 1, "refused": 0}
        if reloader.fanout is not None:
            workers["total"] = reloader.fanout.workers
            try:
                results = await reloader.fanout.everyone("applied")
            except Exception as error:  # the state store is away: this worker alone is known
                log.warning("reload reached this worker only", error=repr(error))
                workers["unconfirmed"] = reloader.fanout.workers - 1
            else:
                workers["applied"] = sum(result == "applied" for result in results.values())
                workers["refused"] = sum(result == "refused" for result in results.values())
                workers["unconfirmed"] = max(0, reloader.fanout.workers - len(results))
        body = {"reloaded": True, "changed": changes, "workers": workers}
        return Response(orjson.dumps(body), 200, media_type="application/json")

    return [Route("/reload", master_only(reload, master_key), methods=["POST"])]
