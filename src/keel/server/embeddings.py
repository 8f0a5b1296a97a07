"""``embed``: an embeddings request through a model's cascade — first route that answers, in order.

Embeddings are one short, non-streaming request, so the loop is plain: routes in tier order, each
tried once within the call's deadline, moving on when the error's class says so (DESIGN's
taxonomy). Only OpenAI-compatible routes serve embeddings; the upstream's bytes go back unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..call import Deadline
from ..errors import (
    DeadlineExceededError,
    NoRouteAvailableError,
    RequestError,
    UpstreamError,
    UpstreamTimeoutError,
)
from ..providers.base import AttemptLimits

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["EmbeddingAnswer", "embed"]


@dataclass(frozen=True, slots=True)
class EmbeddingAnswer:
    """The upstream's response body, the route that gave it and how many routes were tried."""

    body: bytes
    route: str
    attempts: int
    upstream_request_id: str | None


async def embed(gateway: Gateway, model: str, body: dict[str, Any], seconds: float) -> EmbeddingAnswer:
    """The first answer from the cascade of ``model`` within ``seconds``.

    Raises:
        ModelNotFoundError: no such model.
        RequestError: no route of the model serves embeddings.
        UpstreamError: the last route's failure, when none answered.
    """
    cascade = gateway.resolve(model)
    routes = [route for route in cascade.routes() if hasattr(route.provider, "embeddings")]
    if not routes:
        raise RequestError(f"no route of model {model!r} serves embeddings", code="embeddings_unsupported")
    deadline = Deadline.after(seconds)
    last: UpstreamError | None = None
    for tried, route in enumerate(routes, start=1):
        left = deadline.remaining()
        if left <= 0:
            raise DeadlineExceededError(f"the call's deadline ran out before {route.name} answered")
        budget = min(route.timeouts.attempt, left)
        limits = AttemptLimits(connect=min(route.timeouts.connect, budget), total=budget)
        try:
            async with asyncio.timeout(budget):
                native, request_id = await route.provider.embeddings(body, route, limits)  # type: ignore[attr-defined]
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
        return EmbeddingAnswer(native.data, route.name, tried, request_id)
    if last is None:
        raise NoRouteAvailableError(f"no route of {model!r} can take this request")
    raise last
