"""``KeelApp``: the ASGI application of ``keel serve`` — the public API on a lean route table.

The public endpoints (``/v1/...``, health, the OpenAPI document) are matched by exact path in one
dict and run as plain ASGI through an ``Exchange``: on the hot path there is no framework routing,
request or response object (docs/decisions/0003-server-framework.md has the measurement). The
admin API, which another module builds from Starlette routes, is mounted under ``/admin`` on a
Starlette app built (and Starlette imported) at the first request outside the table. The app runs
the ASGI lifespan itself: on shutdown the gateway is closed after uvicorn drained in-flight calls
and streams.

Adding an endpoint is one ``add_route`` call; ``/v1/messages`` passes its own error renderer so its
errors come in Anthropic's shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Config, ServerConfig
from ..config_changes import RESTART_KEYS
from ..errors import KeelError, PromptStoreUnavailableError
from ..gateway import Gateway
from ..telemetry.logs import get_logger
from . import eager_tasks
from .access_log import log_access
from .anthropic_api import count_message_tokens, messages, messages_elsewhere
from .anthropic_wire import anthropic_error
from .caller import identify
from .context import ApiContext
from .errors import ApiError, ErrorRenderer, openai_error
from .exchange import Exchange
from .feedback import feedback
from .health import healthz, readyz
from .metrics_endpoint import metrics
from .openai_api import chat_completions, embeddings, list_models, retrieve_model
from .openapi import openapi_json
from .prompt_api import prompt_completions

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from .reload import Reloader

__all__ = ["ApiRoute", "Handler", "KeelApp", "create_app"]

log = get_logger("keel.server")

Handler = Callable[[ApiContext, Exchange], Awaitable[None]]

YOUNG_COLLECTION_THRESHOLD = 7_000
"""Net allocations between young-generation collections in ``keel serve`` (Python's default: 700)."""


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One endpoint: its method (``*`` for any), its handler, whether it needs a key, and how its
    errors are written (OpenAI's shape unless told)."""

    method: str
    handler: Handler
    auth: bool = True
    render_error: ErrorRenderer = openai_error


class KeelApp:
    """The ASGI callable. ``create_app`` builds one from a gateway or a config."""

    def __init__(
        self,
        gateway: Gateway,
        settings: ServerConfig | None = None,
        *,
        keys: Any = None,
        close_gateway: bool = True,
    ) -> None:
        self.context = ApiContext(gateway, settings or gateway.config.server, keys)
        self._close_gateway = close_gateway
        self._preloading: asyncio.Future[None] | None = None
        self._routes: dict[str, ApiRoute] = {}
        self._prefixes: list[tuple[str, ApiRoute]] = []
        self.add_route("/v1/chat/completions", ApiRoute("POST", chat_completions))
        self.add_route("/v1/embeddings", ApiRoute("POST", embeddings))
        self.add_route("/v1/messages", ApiRoute("POST", messages, render_error=anthropic_error))
        counting = ApiRoute("POST", count_message_tokens, render_error=anthropic_error)
        self.add_route("/v1/messages/count_tokens", counting)
        elsewhere = ApiRoute("*", messages_elsewhere, render_error=anthropic_error)
        self.add_route("/v1/messages/", elsewhere, prefix=True)
        self.add_route("/v1/prompts/", ApiRoute("POST", prompt_completions), prefix=True)
        self.add_route("/v1/feedback", ApiRoute("POST", feedback))
        self.add_route("/v1/models", ApiRoute("GET", list_models))
        self.add_route("/v1/models/", ApiRoute("GET", retrieve_model), prefix=True)
        self.add_route("/healthz", ApiRoute("GET", healthz, auth=False))
        self.add_route("/readyz", ApiRoute("GET", readyz, auth=False))
        self.add_route("/openapi.json", ApiRoute("GET", openapi_json, auth=False))
        self.add_route("/metrics", ApiRoute("GET", metrics, auth=False))  # its own key rule
        self._outer: Any = None
        self.reloader: Reloader | None = None
        """Set by ``keel serve`` (``server.reload``): what reloads this app's config."""

    @property
    def gateway(self) -> Gateway:
        return self.context.gateway

    def apply_config(self, config: Config) -> list[str]:
        """Make ``config`` the one new requests run on; the changed keys (``Gateway.reconfigure``).

        Raises:
            ConfigError: invalid, or a change only a restart applies (nothing changed then).
        """
        ctx = self.context
        changes = self.gateway.reconfigure(config, restart_keys=RESTART_KEYS)
        server = config.server
        if server.master_key != ctx.settings.master_key:
            if server.master_key is not None and ctx.keys is None:
                from ..stores.state import open_key_store

                ctx.keys = open_key_store(config.database)
            self._outer = None  # the admin routes are built again, with the new key, on next use
        if self.reloader is not None and (
            server.watch_config != ctx.settings.watch_config
            or server.watch_interval != ctx.settings.watch_interval
        ):
            self.reloader.watch(server.watch_config, server.watch_interval)
        ctx.settings = server
        return changes

    def add_route(self, path: str, route: ApiRoute, *, prefix: bool = False) -> None:
        """Serve ``path`` (or, with ``prefix``, every path under it) with ``route``."""
        if prefix:
            self._prefixes.append((path, route))
        else:
            self._routes[path] = route

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            route = self._routes.get(path)
            if route is None:
                route = next((r for p, r in self._prefixes if path.startswith(p) and path != p), None)
            if route is not None:
                await self._serve(route, scope, receive, send)
                return
            if not path.startswith("/admin"):
                await self._serve(_NOT_FOUND, scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
            return
        if self._outer is None:
            from starlette.applications import Starlette

            self._outer = Starlette(routes=self._admin_routes())
        await self._outer(scope, receive, send)

    async def _serve(self, route: ApiRoute, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ex = Exchange(scope, receive, send)
        try:
            if route.method not in ("*", ex.method) and not (ex.method == "HEAD" and route.method == "GET"):
                raise ApiError(
                    405,
                    f"{ex.path} takes {route.method}, not {ex.method}",
                    headers=[(b"allow", route.method.encode())],
                )
            if route.auth:
                ctx = self.context
                ex.principal = await identify(ex.headers, ctx.keys, ctx.settings.master_key)
            await route.handler(self.context, ex)
        except Exception as error:
            if not isinstance(error, ApiError | KeelError):
                from ..safety.pii import redact  # an exception may quote a request's content

                log.error(
                    "internal error",
                    request_id=ex.request_id,
                    path=ex.path,
                    error=redact(repr(error)),
                    traceback=redact(traceback.format_exc()),
                )
            if ex.status == 0:  # nothing sent yet: an ordinary error response
                await ex.respond_error(error, route.render_error)
        finally:
            log_access(ex)

    def _admin_routes(self) -> list[BaseRoute]:
        """The admin API (``keel.server.admin``): keys when there is a key store, spend reports always."""
        ctx = self.context
        try:
            admin = importlib.import_module("keel.server.admin")
        except ImportError:
            return []
        from starlette.routing import Mount

        from .cache_admin import cache_routes
        from .calls_admin import call_routes
        from .flags_admin import flag_routes
        from .prompts_admin import prompt_routes
        from .reload_admin import reload_routes

        routes = admin.admin_routes(ctx.keys, ctx.settings.master_key, database=ctx.gateway.config.database)
        routes += cache_routes(ctx.gateway, ctx.settings.master_key)
        routes += call_routes(ctx.gateway.config.database, ctx.settings.master_key)
        routes += reload_routes(self, ctx.settings.master_key)
        routes += prompt_routes(ctx.gateway, ctx.settings.master_key)
        routes += flag_routes(ctx.gateway, ctx.settings.master_key)
        return [Mount("/admin", routes=routes)]

    async def _run_lifespan(self, receive: Any, send: Any) -> None:
        """The ASGI lifespan protocol around ``_lifespan``, as Starlette's router runs it: a failure
        is reported to the server (with its traceback) and raised."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with self._lifespan():
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except BaseException:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        # Everything built at start (config, routes, imported modules) lives until shutdown: move it
        # out of the collector's view, so full collections under load scan only per-request garbage
        # (they stalled the loop for ~110 ms each at concurrency 32; bench/README.md). A request
        # leaves no reference cycles behind, so young collections find nothing to free: run them
        # ten times less often (each scanned every in-flight request's objects, ~1 ms, every ~7
        # requests). Start-up's own garbage (~2,000 objects, ~0.5 MB under ``keel serve``) is frozen
        # with the rest: finding it would take a full collection, ~55 ms of a sub-second start.
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        eager_tasks.install()  # request bodies leave at once on Python 3.11 too (docs/decisions/0007)
        settings = self.context.settings
        if self.gateway.config.prompts.dir:  # a version clash between files and database stops the start
            try:
                await self.gateway.prompts.start()
            except PromptStoreUnavailableError as error:
                log.warning(
                    "prompts: the database is not readable yet; tried again at the first call",
                    error=str(error),
                )
        if self.reloader is not None:
            await self.reloader.start(settings.watch_config, settings.watch_interval)
        if self.gateway.config.guards.injection.mode != "off":
            # The scanner's rules take ~0.2 s to load: in a thread, while the first calls come in.
            self._preloading = asyncio.get_running_loop().run_in_executor(None, _load_injection_scanner)
        yield
        # uvicorn has stopped accepting and drained in-flight requests by now.
        self.context.draining = True
        if self.reloader is not None:
            await self.reloader.stop()
        if self._close_gateway:
            await self.gateway.aclose()
        keys = self.context.keys
        close = getattr(keys, "aclose", None) or getattr(keys, "close", None)
        if close is not None:
            await close()


async def _not_found(ctx: ApiContext, ex: Exchange) -> None:
    raise ApiError(404, f"no such endpoint: {ex.method} {ex.path}; see GET /openapi.json", code="not_found")


_NOT_FOUND = ApiRoute("*", _not_found, auth=False)


def create_app(
    source: Gateway | str | dict[str, Any] | None = None, *, keys: Any = None, close_gateway: bool = True
) -> KeelApp:
    """The ``keel serve`` application for a gateway, a ``keel.yaml`` path, a config dict, or the defaults.

    Args:
        source: a ready ``Gateway`` (its config's ``server`` section applies), or what
            ``Gateway.from_config`` takes.
        keys: the virtual-key store that ``keel.server.auth`` checks keys against.
        close_gateway: close the gateway when the server shuts down.

    Raises:
        ConfigError: the config is invalid.
    """
    gateway = source if isinstance(source, Gateway) else Gateway.from_config(source)
    return KeelApp(gateway, keys=keys, close_gateway=close_gateway)


def _load_injection_scanner() -> None:
    """Imports the prompt-injection scanner and builds what it builds on first use."""
    from ..safety.injection import scan

    scan("Warm-up: ignore nothing.")
