"""``first_answer``: one short, non-streaming request through a model's routes — the first that answers.

Embeddings and token counts are not chat calls: no ledger, budget or cache applies, and nothing
streams. The loop is plain: routes in tier order, each tried once within one deadline, moving on
when the error's class says so (DESIGN's taxonomy); the upstream's bytes go back unchanged. A route
whose circuit the chat calls have opened is passed over; a one-shot request's own failures do not
count towards it (an endpoint of a route can fail while its chat works).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..call import Deadline
from ..errors import (
    CircuitOpenError,
    DeadlineExceededError,
    NoRouteAvailableError,
    UpstreamError,
    UpstreamTimeoutError,
)
from ..providers.base import AttemptLimits

if TYPE_CHECKING:
    from ..route import Route
    from ..stores.base import BreakerStore
    from ..types import Native

__all__ = ["Ask", "RouteAnswer", "first_answer"]

Ask = Callable[["Route", AttemptLimits], Awaitable[tuple["Native", "str | None"]]]
"""One request to one route: its raw answer and the upstream's request id."""


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    """The upstream's response body, the route that gave it, how many routes were asked (none when
    it came from the cache)."""

    body: bytes
    route: str
    attempts: int
    upstream_request_id: str | None
    cache: str | None = None  # "hit" or "miss" when the answer could come from the response cache


async def first_answer(
    model: str, routes: Sequence[Route], seconds: float, ask: Ask, breakers: BreakerStore | None = None
) -> RouteAnswer:
    """The first answer ``ask`` gets from ``routes`` within ``seconds``, passing over the routes whose
    circuit is open in ``breakers``.

    Raises:
        UpstreamError: the last route's failure, when none answered, or the first that says another
            route would fail the same way (a bad request); ``CircuitOpenError`` when every circuit
            was open.
        DeadlineExceededError: the time ran out.
    """
    deadline = Deadline.after(seconds)
    last: UpstreamError | None = None
    tried = 0
    for route in routes:
        if breakers is not None:
            circuit = await breakers.snapshot(route.name)
            if circuit.state == "open":
                last = CircuitOpenError(f"{route.name}: circuit open", route=route.name)
                continue
        tried += 1
        left = deadline.remaining()
        if left <= 0:
            raise DeadlineExceededError(f"the call's deadline ran out before {route.name} answered")
        budget = min(route.timeouts.attempt, left)
        limits = AttemptLimits(connect=min(route.timeouts.connect, budget), total=budget)
        try:
            async with asyncio.timeout(budget):
                native, request_id = await ask(route, limits)
        except TimeoutError:
            if deadline.remaining() <= 0.001:
                raise DeadlineExceededError(f"the call's deadline ran out waiting for {route.name}") from None
            last = UpstreamTimeoutError(f"no answer within {budget:g}s", phase="attempt", route=route.name)
            continue
        except UpstreamError as error:
            if not error.try_next_route:
                raise
            last = error
            continue
        return RouteAnswer(native.data, route.name, tried, request_id)
    if last is None:
        raise NoRouteAvailableError(f"no route of {model!r} can take this request")
    raise last
