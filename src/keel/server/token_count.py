"""``count_tokens``: Anthropic's token count for a Messages body, from the first Claude route of the
model's cascade that answers.

Only Claude's own API counts tokens the way it bills them, so only routes of the ``anthropic`` kind
are asked; the client's body goes to them unchanged but for ``model``, and their answer comes back as
its own bytes. A cascade without a Claude route gets a clear 400 rather than a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RequestError
from .one_shot import RouteAnswer, first_answer

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["count_tokens"]


async def count_tokens(
    gateway: Gateway, model: str, body: dict[str, Any], seconds: float, beta: str | None = None
) -> RouteAnswer:
    """``{"input_tokens": N}`` for ``body`` from the cascade of ``model`` within ``seconds``.

    Raises:
        ModelNotFoundError: no such model.
        RequestError: no route of the model is a Claude route.
        UpstreamError: the last route's failure, when none answered.
    """
    routes = [route for route in gateway.resolve(model).routes() if hasattr(route.provider, "count_tokens")]
    if not routes:
        raise RequestError(
            f"model {model!r} has no Claude route to count tokens with; token counting is Anthropic's "
            "own API (POST /v1/messages/count_tokens)",
            code="count_tokens_unsupported",
        )
    return await first_answer(
        model,
        routes,
        seconds,
        lambda route, limits: route.provider.count_tokens(body, route, limits, beta),  # type: ignore[attr-defined]
        gateway.breakers,
    )
