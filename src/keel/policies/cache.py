"""``CachePolicy``: answer a repeated call from the cache, and keep each new answer for the next one.

Only eligible calls take part (deterministic ones, unless the caller opts in or out; see
``_cache_key``). A hit is the stored response — replayed as chunks of the usual shape to a streaming
caller — marked on the call (``cache_hit``, so its ledger record costs nothing) and on the response
(``ChatResponse.cache``). A miss goes on down the stack and its answer is stored once it is whole: at
once for a complete response, when the stream completes for a stream. The cache can only ever
cost a miss: a backend that fails or is slow, or an entry that does not decode, is logged and
counted and the call goes on as if nothing were cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .._replay import replayed
from ..reply import ChunkStream, StreamEnd
from ..telemetry.metrics import cache_bytes, cache_lookups
from ..types import CacheStatus, ChatResponse
from ._cache_entry import CachedAnswer, cacheable, decode_entry, encode_entry
from ._cache_guard import CacheGuard
from ._cache_key import eligible, entry_key, tenant_of

if TYPE_CHECKING:
    from ..call import Call
    from ..config import CacheConfig
    from ..reply import Reply
    from ..stores.base import TTLMap
    from .base import Handler

__all__ = ["CachePolicy", "SemanticLookup"]


class SemanticLookup(Protocol):
    """Near-duplicate prompts (``keel.semantic``): the key of a stored entry close enough to this call."""

    async def find(self, call: Call, tenant: str) -> tuple[str, float] | None: ...

    async def add(self, call: Call, tenant: str, key: str) -> None: ...


class CachePolicy:
    """Looks eligible calls up by their canonical key; stores whole answers under it."""

    def __init__(
        self,
        settings: CacheConfig,
        store: TTLMap,
        semantic: SemanticLookup | None = None,
        guard: CacheGuard | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.semantic = semantic
        self._guard = guard or CacheGuard(settings.timeout)

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        model = self.settings.models.get(call.request.model)
        if (model is not None and not model.enabled) or not eligible(call):
            return await call_next(call)
        tenant = tenant_of(call, self.settings.tenant)
        output = call.options.get("output")
        key = entry_key(call.request, tenant, output.key() if output is not None else "")
        ttl = self._ttl(call, model.ttl if model else None)
        call.options["cache_key"], call.options["cache_ttl_s"] = key, ttl
        if call.options.get("cache_refresh"):
            call.options["cache_status"] = "refresh"
        else:
            answer = await self._lookup(key)
            if answer is not None:
                return self._serve(call, answer, CacheStatus(age_s=answer.age_s))
            found = await self._guard(self.semantic.find(call, tenant), None) if self.semantic else None
            if found is not None:
                answer = await self._lookup(found[0], count=False)
                if answer is not None:
                    status = CacheStatus(kind="semantic", age_s=answer.age_s, similarity=round(found[1], 4))
                    return self._serve(call, answer, status)
            cache_lookups.labels(result="miss").inc()
            call.options["cache_status"] = "miss"
        reply = await call_next(call)
        if isinstance(reply, ChunkStream):

            async def completed(end: StreamEnd) -> None:
                if end.status == "completed":
                    await self._keep(call, tenant, key, ttl, end.response)

            reply.on_end(completed)
        else:
            await self._keep(call, tenant, key, ttl, reply)
        return reply

    def _ttl(self, call: Call, model_ttl: float | None) -> float:
        asked = call.options.get("cache_ttl")
        ttl = float(asked) if asked else (model_ttl or self.settings.ttl)
        return min(ttl, self.settings.max_ttl)

    async def _lookup(self, key: str, *, count: bool = True) -> CachedAnswer | None:
        data = await self._guard(self.store.get(key), None)
        if data is None:
            return None
        try:
            answer = decode_entry(data)
        except ValueError as error:
            self._guard.failed("undecodable entry", error)
            await self._guard(self.store.delete(key), None)
            return None
        if count:
            cache_lookups.labels(result="hit").inc()
        cache_bytes.labels(direction="served").inc(len(data))
        return answer

    def _serve(self, call: Call, answer: CachedAnswer, status: CacheStatus) -> Reply:
        if status.kind == "semantic":
            cache_lookups.labels(result="semantic_hit").inc()
        call.options.update(cache_hit=True, cache_status="hit", cache_info=status)
        response = answer.response
        response.cache = status
        if call.stream:
            return replayed(response)
        return response

    async def _keep(self, call: Call, tenant: str, key: str, ttl: float, response: ChatResponse) -> None:
        """Store a whole answer, unless a shared call already stored it for every caller, or it was
        made without the caller's tools (a route that cannot call them): a later call may reach one
        that can."""
        if not cacheable(response) or call.options.get("tools_dropped"):
            return
        if not call.options.get("cache_stored"):
            data = encode_entry(response)
            if len(data) > self.settings.max_entry_bytes:
                return
            if await self._guard(self.store.set(key, data, ttl), False) is not False:
                cache_bytes.labels(direction="stored").inc(len(data))
        if self.semantic is not None:
            await self._guard(self.semantic.add(call, tenant, key), None)
