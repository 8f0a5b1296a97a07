"""``embed``: an embeddings request through a model's cascade — the first route that answers, in order.

Only OpenAI-compatible routes serve embeddings; the upstream's bytes go back unchanged
(``one_shot.first_answer``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import RequestError
from .one_shot import RouteAnswer, first_answer

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["embed"]


async def embed(gateway: Gateway, model: str, body: dict[str, Any], seconds: float) -> RouteAnswer:
    """The first answer from the cascade of ``model`` within ``seconds``.

    Raises:
        ModelNotFoundError: no such model.
        RequestError: no route of the model serves embeddings.
        UpstreamError: the last route's failure, when none answered.
    """
    with gateway.holding() as current:
        routes = [route for route in current.resolve(model).routes() if hasattr(route.provider, "embeddings")]
        if not routes:
            raise RequestError(
                f"no route of model {model!r} serves embeddings", code="embeddings_unsupported"
            )
        return await first_answer(
            model,
            routes,
            seconds,
            lambda route, limits: route.provider.embeddings(body, route, limits),  # type: ignore[attr-defined]
            gateway.breakers,
        )
