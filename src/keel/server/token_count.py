"""``count_tokens``: Anthropic's token count for a Messages body, from the first Claude route of the
model's cascade that answers — or from the response cache, when the same tenant counted the same body.

Only Claude's own API counts tokens the way it bills them, so only routes of the ``anthropic`` kind
are asked; the client's body goes to them unchanged but for ``model``, and their answer comes back as
its own bytes. A cascade without a Claude route gets a clear 400 rather than a guess.

A count depends only on the body, and clients such as Claude Code count the same system prompt and
tool definitions again in every session, while Anthropic rate-limits counting on its own; so with the
response cache on, an answer is kept for ``cache.ttl`` under the tenant (as chat entries are, so one
tenant's counts tell nothing about another's). A cache that fails is a miss, never an error.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import RequestError
from ..policies._cache_key import count_key
from ..telemetry.metrics import cache_lookups
from .one_shot import RouteAnswer, first_answer

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["count_tokens"]


async def count_tokens(
    gateway: Gateway,
    model: str,
    body: dict[str, Any],
    seconds: float,
    beta: str | None = None,
    tenant: str = "anonymous",
    options: dict[str, Any] | None = None,
) -> RouteAnswer:
    """``{"input_tokens": N}`` for ``body`` from the cascade of ``model`` within ``seconds``;
    ``options`` are the caller's cache choices as ``keel_options`` reads them (``cache: False`` —
    neither read nor store; ``cache_refresh`` — count anew, then store; ``cache_ttl``) and its
    ``key_id`` and ``team``. What is counted is the body as a call's attempt sends it, with the
    guards' markers (a canary, spotlighting), so the count matches the input the call is billed for.

    Raises:
        ModelNotFoundError: no such model.
        RequestError: no route of the model is a Claude route.
        UpstreamError: the last route's failure, when none answered.
    """
    with gateway.holding() as current:
        routes = [
            route for route in current.resolve(model).routes() if hasattr(route.provider, "count_tokens")
        ]
        if not routes:
            raise RequestError(
                f"model {model!r} has no Claude route to count tokens with; token counting is Anthropic's "
                "own API (POST /v1/messages/count_tokens)",
                code="count_tokens_unsupported",
            )
        options = options or {}
        settings = current.config.cache
        cache = current.cache if options.get("cache") is not False else None
        key = count_key(model, tenant, body, beta)
        if cache is not None and not options.get("cache_refresh"):
            kept = await cache.guard(cache.entries.get(key), None)
            if kept:
                cache_lookups.labels(result="hit").inc()
                entry = orjson.loads(kept)
                return RouteAnswer(entry["body"].encode(), entry["route"], 0, None, cache="hit")
            cache_lookups.labels(result="miss").inc()
        sent = current.markers.counted_body(
            body, model, (options or {}).get("key_id"), (options or {}).get("team")
        )
        answer = await first_answer(
            model,
            routes,
            seconds,
            lambda route, limits: route.provider.count_tokens(sent, route, limits, beta),  # type: ignore[attr-defined]
            gateway.breakers,
        )
        if cache is None:
            return answer
        entry = orjson.dumps({"route": answer.route, "body": answer.body.decode()})
        ttl = min(options.get("cache_ttl", settings.ttl), settings.max_ttl)
        await cache.guard(cache.entries.set(key, entry, ttl), None)
        return dataclasses.replace(answer, cache="refresh" if options.get("cache_refresh") else "miss")
