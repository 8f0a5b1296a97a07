"""The policy contract: one async call that takes the call and the rest of the chain.

Two chains make up the stack. Outer policies run once per call (``Policy``) and end in the router;
route policies run once per route the router tries (``RoutePolicy``) and end in the provider. Each
chain is built by one reversed fold, so the list order is the request order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply
    from ..route import Route

__all__ = ["Handler", "Policy", "RouteHandler", "RoutePolicy", "chain", "chain_route"]

Handler: TypeAlias = Callable[["Call"], Awaitable["Reply"]]
RouteHandler: TypeAlias = Callable[["Call", "Route"], Awaitable["Reply"]]


class Policy(Protocol):
    """Runs once per call; calls ``call_next(call)`` zero or more times and returns a ``Reply``."""

    async def __call__(self, call: Call, call_next: Handler) -> Reply: ...


class RoutePolicy(Protocol):
    """Runs for one route of the cascade; calls ``call_next(call, route)``."""

    async def __call__(self, call: Call, route: Route, call_next: RouteHandler) -> Reply: ...


def chain(policies: Sequence[Policy], endpoint: Handler) -> Handler:
    """``policies[0]`` runs first and ``endpoint`` last."""
    handler = endpoint
    for policy in reversed(policies):
        handler = partial(_outer, policy, handler)
    return handler


def chain_route(policies: Sequence[RoutePolicy], endpoint: RouteHandler) -> RouteHandler:
    """``policies[0]`` runs first and ``endpoint`` last."""
    handler = endpoint
    for policy in reversed(policies):
        handler = partial(_inner, policy, handler)
    return handler


async def _outer(policy: Policy, call_next: Handler, call: Call) -> Reply:
    return await policy(call, call_next)


async def _inner(policy: RoutePolicy, call_next: RouteHandler, call: Call, route: Route) -> Reply:
    return await policy(call, route, call_next)
