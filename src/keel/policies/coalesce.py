"""``CoalescePolicy``: identical cache-eligible calls in flight at the same time share one upstream call.

The first caller of a key starts the shared call (a ``Flight``) in a task of its own, so no caller's
cancellation reaches it; every caller — that one included — then reads the flight: a complete
response, the same error, or the chunks so far and then the rest. A caller that goes away leaves the
flight; the shared call is cancelled only when its last caller has gone. The first caller carries
the upstream attempts (and so the cost); the others are recorded as ``coalesced`` at no cost. If the
first caller leaves early it waits for the shared call to end, so its ledger record has the cost.
A caller that waits on another's call notes when it began (``call.options["shared_since"]``, wall
clock), so that wait is reported as upstream time, not as Keel's overhead. An answer made without
the callers' tools (a route that cannot call them) says so to every caller and is not stored.

Across processes (a ``LockNotify``, i.e. Redis), the flight first takes a short lease on the key:
the replica that gets it calls upstream and stores the answer in the cache before releasing it; the
others wait for the release (at most ``cache.lock_wait``) and answer from the cache — or, when the
wait runs out or the cache has nothing, call upstream themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, TypeVar

from .._replay import replayed
from ..reply import ChunkStream, StreamStatus
from ..telemetry.logs import get_logger
from ..telemetry.metrics import coalesced_calls
from ._cache_entry import cacheable, decode_entry, encode_entry
from ._flight import Flight

T = TypeVar("T")

if TYPE_CHECKING:
    from ..call import Call
    from ..config import CacheConfig
    from ..reply import Reply
    from ..stores.base import LockNotify, TTLMap
    from ..types import Chunk
    from .base import Handler

__all__ = ["CoalescePolicy"]

log = get_logger("keel.coalesce")


class CoalescePolicy:
    """Joins calls that carry the same ``cache_key`` (set by the cache policy) into one flight."""

    def __init__(
        self,
        settings: CacheConfig,
        entries: TTLMap,
        locks: LockNotify | None = None,
        flights: dict[str, Flight] | None = None,
    ) -> None:
        """``flights``: the calls in flight by key, shared with the policy a config reload replaces
        this one with, so a call started before the reload can still be joined after it."""
        self.settings = settings
        self.entries = entries
        self.locks = locks
        self._flights: dict[str, Flight] = {} if flights is None else flights
        self._pending: set[asyncio.Task[None]] = set()

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        key = call.options.get("cache_key")
        if key is None:
            return await call_next(call)
        flight = self._flights.get(key)
        leader = flight is None or not flight.joinable
        if flight is None or not flight.joinable:
            flight = self._flights[key] = Flight(key, self.settings.max_entry_bytes)
            flight.task = asyncio.create_task(self._fly(flight, call, call_next), name="keel-shared-call")
        else:
            call.options["coalesced"] = True
            call.options["shared_since"] = time.time()
            coalesced_calls.labels(source="local").inc()
        call.options["cache_stored"] = True  # the flight stores the answer once, for every caller
        return await self._board(flight, call, leader)

    async def _board(self, flight: Flight, call: Call, leader: bool) -> Reply:
        """This caller's answer from the flight: at once for a stream, at the end otherwise."""
        member = object()
        reads_chunks = call.stream and flight.streamed is not False and not flight.done
        flight.join(member, reads_chunks=reads_chunks)
        try:
            while not flight.done and not (reads_chunks and flight.streamed):
                await flight.changed()
        except BaseException:
            flight.leave(member)
            if leader:  # the shared call's cost belongs on this caller's record: let it land first
                await flight.settled()
            raise
        if flight.remote:
            call.options["coalesced"] = True
        if flight.tools_dropped:
            call.options["tools_dropped"] = True
        if flight.done and flight.error is not None and not (reads_chunks and flight.chunks):
            flight.leave(member)
            raise flight.error
        if reads_chunks and flight.positions.get(member) is not None:
            source = self._read(flight, member)
            if leader:
                return _LeaderStream(source, flight, self._pending, model=call.request.model)
            return ChunkStream(batches=source, model=call.request.model)
        flight.leave(member)
        assert flight.response is not None
        response = flight.response.model_copy()
        if call.stream:
            return replayed(response)
        return response

    @staticmethod
    async def _read(flight: Flight, member: object) -> AsyncIterator[list[Chunk]]:
        try:
            async for batch in flight.read(member):
                yield batch
        finally:
            flight.leave(member)

    async def _fly(self, flight: Flight, call: Call, call_next: Handler) -> None:
        """The shared call: elect a leader across replicas, call upstream, store the answer."""
        token = None
        reply: Reply | None = None
        try:
            if self.locks is not None:
                token = await self._elect(flight, call)
                if flight.done:
                    return
            reply = await call_next(call)
            flight.tools_dropped = bool(call.options.get("tools_dropped"))
            if isinstance(reply, ChunkStream):
                flight.started(streamed=True)
                while True:
                    try:
                        batch = await reply.next_batch()
                    except StopAsyncIteration:
                        break
                    for chunk in batch:
                        await flight.push(chunk)
                flight.finish(reply.partial)
            else:
                flight.started(streamed=False)
                flight.finish(reply)
            await self._store(call, flight)
        except BaseException as error:
            flight.fail(error)
            if isinstance(reply, ChunkStream) and reply.end is None:
                await reply.aclose()
            if not isinstance(error, Exception):
                raise
        finally:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            if token is not None and self.locks is not None:
                await self._guarded(self.locks.unlock(_lock_key(flight.key), token))

    async def _elect(self, flight: Flight, call: Call) -> str | None:
        """The lease's token when this replica leads; otherwise wait for the leader's answer."""
        assert self.locks is not None
        lock = _lock_key(flight.key)
        token = await self._guarded(self.locks.try_lock(lock, max(1.0, call.deadline.remaining())))
        if isinstance(token, str) or token is _FAILED:
            return token if isinstance(token, str) else None  # leading, or Redis is away: go alone
        wait = min(self.settings.lock_wait, call.deadline.remaining())
        call.options["shared_since"] = time.time()
        if await self._guarded(self.locks.wait(lock, wait), limit=wait + 1) is not True:
            return None  # the leader is slow or gone: call upstream here
        data = await self._guarded(self.entries.get(flight.key))
        if isinstance(data, bytes):
            try:
                answer = decode_entry(data)
            except ValueError:
                return None
            coalesced_calls.labels(source="remote").inc()
            flight.started(streamed=False)
            flight.finish(answer.response, remote=True)
        return None

    async def _store(self, call: Call, flight: Flight) -> None:
        response = flight.response
        if response is None or flight.remote or flight.tools_dropped or not cacheable(response):
            return
        data = encode_entry(response)
        if len(data) <= self.settings.max_entry_bytes:
            ttl = float(call.options.get("cache_ttl_s") or self.settings.ttl)
            await self._guarded(self.entries.set(flight.key, data, ttl))

    async def _guarded(self, work: Awaitable[T], limit: float | None = None) -> T | object:
        try:
            async with asyncio.timeout(limit or self.settings.timeout):
                return await work
        except Exception as error:  # coordination is an optimisation: on failure, work alone
            log.warning("coalescing store failed; going on without it", error=type(error).__name__)
            return _FAILED


_FAILED = object()


class _LeaderStream(ChunkStream):
    """The first caller's view of a shared stream. It carries the upstream attempts, so if it leaves
    before the shared call ends, its end (and with it its ledger record) is reported when the shared
    call ends, with the whole call's cost, while the caller itself goes at once."""

    def __init__(
        self,
        source: AsyncIterator[list[Chunk]],
        flight: Flight,
        pending: set[asyncio.Task[None]],
        *,
        model: str,
    ) -> None:
        super().__init__(batches=source, model=model)
        self._flight = flight
        self._pending = pending
        self._deferred = False

    async def _finish(self, status: StreamStatus, error: BaseException | None = None) -> None:
        if self._flight.done or self.end is not None:
            await super()._finish(status, error)
            return
        if self._deferred:
            return
        self._deferred = True

        async def when_settled() -> None:
            await self._flight.settled()
            await ChunkStream._finish(self, status, error)

        task = asyncio.create_task(when_settled(), name="keel-shared-call-end")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def _lock_key(key: str) -> str:
    """The lease beside an entry: same ``{digest}`` hash tag, so the same Redis Cluster slot."""
    return "lease" + key.removeprefix("cache")
