"""``RouterPolicy``: the fallback cascade — tiers in order, deployments in a tier by weight.

Whether to move on is the error's decision (its class flags), not the router's: a context-length
error moves on only to routes with a larger window, a content-policy refusal stops unless the
operator allowed fallback for it, and a route whose circuit is open is passed over at no cost. A
route that cannot honour the request — a forced tool call on a route without ``supports_tools`` —
is passed over before it is tried; when that leaves no route, the call is refused with a 400.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import (
    CircuitOpenError,
    ContentPolicyError,
    ContextLengthExceededError,
    NoRouteAvailableError,
    ToolsUnsupportedError,
    UpstreamError,
)
from ..reply import ChunkStream
from ..telemetry.logs import get_logger
from ._tools import takes
from .continuation import continued

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Cascade, Route
    from .base import RouteHandler

__all__ = ["RouterPolicy"]

log = get_logger("keel.router")


class RouterPolicy:
    """The end of the outer chain: picks routes for the call's model and runs each through the
    route chain until one answers or the errors say stop."""

    def __init__(
        self,
        resolve: Callable[[str], Cascade],
        route_handler: RouteHandler,
        *,
        fallback_on_content_policy: bool = False,
        continue_streams: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.resolve = resolve
        self.route_handler = route_handler
        self.fallback_on_content_policy = fallback_on_content_policy
        self.continue_streams = continue_streams
        self._rng = rng or random.Random()

    async def __call__(self, call: Call) -> Reply:
        opening = call.attempt_reason  # "first", or "reask" when the validate policy asks again
        try:
            return await self._cascade(call, opening)
        finally:
            call.attempt_reason = "first"

    async def _cascade(self, call: Call, opening: str) -> Reply:
        """The cascade's routes in turn; the first is tried for ``opening``, the rest as fallbacks."""
        cascade = self.resolve(call.request.model)
        failures: list[UpstreamError] = []
        needs_window: int | None = None
        request = call.request
        # Routes whose answers failed validation too often (the validate policy): passed over while
        # another route of the cascade is left.
        avoid = call.options.get("avoid_routes") or ()
        if avoid and all(route.name in avoid for route in cascade.routes()):
            avoid = ()

        def usable(route: Route) -> bool:
            fits = _fits(route, needs_window)  # needs_window is read late
            return fits and takes(route, request) and route.name not in avoid

        for tier in cascade.tiers:
            for route in tier.order(self._rng, usable):
                call.deadline.check()
                call.attempt_reason = "fallback" if failures else opening
                try:
                    reply = await self.route_handler(call, route)
                except UpstreamError as error:
                    failures.append(error)
                    if isinstance(error, ContextLengthExceededError):
                        needs_window = route.capabilities.context_window or 0
                    elif not self._moves_on(error):
                        raise self._final(call, error, failures) from None
                    log.info(
                        "falling back", route=route.name, reason=error.outcome, request_id=call.request_id
                    )
                    continue
                if self.continue_streams and isinstance(reply, ChunkStream):
                    later = [other for other in cascade.routes() if other is not route]
                    return continued(call, reply, later, self.route_handler)
                return reply
        if not failures:
            if not any(takes(route, request) for route in cascade.routes()):
                raise ToolsUnsupportedError(
                    f"the request forces a tool call (tool_choice), and no route of {cascade.name!r} "
                    "can call tools (supports_tools); let the model choose (tool_choice: auto) or "
                    "use a model with a route that supports tools"
                )
            raise NoRouteAvailableError(f"no route of {cascade.name!r} can take this request")
        raise self._final(call, failures[-1], failures)

    def _moves_on(self, error: UpstreamError) -> bool:
        if isinstance(error, ContentPolicyError):
            return self.fallback_on_content_policy
        return error.try_next_route

    @staticmethod
    def _final(call: Call, error: UpstreamError, failures: list[UpstreamError]) -> Exception:
        """The error to raise: the last real failure, naming every route tried and why it failed."""
        tried = "; ".join(f"{failure.route}: {failure.describe()}" for failure in failures)
        real = [failure for failure in failures if not isinstance(failure, CircuitOpenError)]
        if not real:
            waits = [failure.retry_after for failure in failures if failure.retry_after is not None]
            final: Exception = NoRouteAvailableError(
                f"every route is unavailable ({tried})", retry_after=min(waits) if waits else None
            )
        else:
            final = real[-1]
            if len(failures) > 1:
                final.message = f"{final.message} (routes tried: {tried})"
        final.attempts = call.attempts  # type: ignore[attr-defined]
        return final


def _fits(route: Route, needs_window: int | None) -> bool:
    """After a context-length error, only a route with a larger known context window may be tried."""
    if needs_window is None:
        return True
    window = route.capabilities.context_window
    return window is not None and window > needs_window
