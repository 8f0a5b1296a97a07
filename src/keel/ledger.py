"""The usage ledger: one record per call, and the writer that gets it to the store without losing it.

Records are written off the hot path by a background writer in batches. ``durability: strict``
makes the call wait until its record is stored; ``batched`` (the default) acknowledges at once and
loses at most the records still queued if the process is killed (never on a clean shutdown, which
flushes). No secret is ever recorded, and no prompt or completion text unless the operator asks
(``capture.content``: then redacted, ``keel.telemetry.capture``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from .call import new_request_id
from .errors import LedgerUnavailableError
from .stores.unavailable import store_unavailable
from .telemetry.logs import get_logger
from .telemetry.metrics import ledger_queue_depth, ledger_records, ledger_write_lag

if TYPE_CHECKING:
    from .call import Call
    from .ledger_spill import LedgerSpill
    from .stores.base import LedgerStore
    from .types import ChatResponse

__all__ = ["LedgerRecord", "LedgerWriter", "MemoryLedger", "record_of"]

log = get_logger("keel.ledger")


@dataclass(slots=True)
class LedgerRecord:
    """What one call cost and how it went; attempts inside it."""

    request_id: str
    started_at: float
    status: str
    requested_model: str
    stream: bool
    key_id: str | None = None
    team: str | None = None
    user: str | None = None
    route: str | None = None
    model: str | None = None
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cache_hit: bool = False
    coalesced: bool = False
    error: str | None = None
    upstream_request_id: str | None = None
    prompt: str | None = None
    variant: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    record_id: str = field(default_factory=new_request_id)  # a write retried after a lost reply is one row
    validation: str | None = None  # structured output: valid, repaired, refused or failed (the last answer)
    reasks: int | None = None  # structured output: how many times the answer was asked for again
    guards: str | None = None  # output guards that fired: "name=block,other=flag" (never what they found)
    prompt_version: int | None = None  # with ``prompt``: the version of the named prompt that was sent
    feature: str | None = None  # the feature the call named (its flag)
    feature_variant: str | None = None  # with ``feature``: the flag's variant the call was served as
    content: dict[str, Any] | None = None  # capture.content: the request and answer, redacted and bounded

    def row(self) -> dict[str, Any]:
        # Not dataclasses.asdict: that deep-copies every attempt dict, on the hot path.
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(field.name for field in fields(LedgerRecord))


def _masked(text: str) -> str:
    """``text`` with personal data and keys masked (imported on the first failure: start-up stays light)."""
    from .safety.pii import redact

    return redact(text)


def record_of(
    call: Call, *, status: str, response: ChatResponse | None = None, error: BaseException | None = None
) -> LedgerRecord:
    """The ledger record of a finished call, from its attempts (usage and cost summed over them)."""
    now = time.monotonic()
    record = LedgerRecord(
        request_id=call.request_id,
        started_at=call.started_at,
        status=status,
        requested_model=call.request.model,
        stream=call.stream,
        key_id=call.options.get("key_id"),
        team=call.options.get("team"),
        user=call.options.get("user_ref", call.request.user),
        latency_ms=(now - call.started) * 1000,
        ttft_ms=(call.first_token_at - call.started) * 1000 if call.first_token_at else None,
        cache_hit=bool(call.options.get("cache_hit")),
        coalesced=bool(call.options.get("coalesced")),
        prompt=call.options.get("prompt"),
        prompt_version=call.options.get("prompt_version"),
        variant=call.options.get("variant"),
        feature=call.options.get("feature"),
        feature_variant=call.options.get("feature_variant"),
        # An error may quote the upstream's body, and that the prompt: personal data is masked.
        error=_masked(f"{type(error).__name__}: {error}") if error is not None else None,
    )
    validation = call.options.get("validation")
    if validation is not None:
        record.validation, record.reasks = validation["outcome"], validation["reasks"]
    findings = call.options.get("guards")
    if findings:
        record.guards = ",".join(f"{finding.guard}={finding.mode}" for finding in findings)
    for attempt in call.attempts:
        dumped = attempt.model_dump(mode="json", exclude_none=True)
        if "error" in dumped:
            dumped["error"] = _masked(dumped["error"])
        record.attempts.append(dumped)
        if attempt.usage is not None:
            record.input_tokens += attempt.usage.input_tokens
            record.cached_input_tokens += attempt.usage.cached_input_tokens
            record.cache_write_tokens += attempt.usage.cache_write_tokens
            record.output_tokens += attempt.usage.output_tokens
            record.reasoning_tokens += attempt.usage.reasoning_tokens
        elif attempt.delivered_bytes:  # a stream cut before its usage: the tokens it was billed for
            record.input_tokens += attempt.input_bound or 0
            record.output_tokens += attempt.delivered_bytes
        record.cost_usd += attempt.cost or Decimal(0)
        if attempt.outcome in ("ok", "cancelled") or (attempt.usage and attempt.outcome != "refused"):
            record.route = attempt.route
            record.upstream_request_id = attempt.upstream_request_id
    if response is not None:
        record.model = response.model or None
    return record


# The record as the store takes it, its ack, when it was queued (monotonic: the write lag), and the
# record as a row (what a spill to disk keeps).
_Entry = tuple[Any, "asyncio.Future[None] | None", float, dict[str, Any]]


_WRITE_TIMEOUT_S = 2.0


class LedgerWriter:
    """A bounded queue drained in batches into a ``LedgerStore``; ``close()`` flushes what is left.

    ``batched`` acknowledges a record at once and writes it within ``flush_interval``. ``strict``
    makes ``add`` wait until the record is committed; records that arrive while a write is under
    way are committed together in the next one (group commit), so strict costs latency, not a
    transaction per call.
    """

    def __init__(
        self,
        store: LedgerStore,
        *,
        durability: Literal["batched", "strict"] = "batched",
        batch_size: int = 2048,
        flush_interval: float = 0.2,
        max_queue: int = 100_000,
        strict_wait: float = 5.0,
        spill: LedgerSpill | None = None,
    ) -> None:
        """``spill``: where batches go while the store is away (``LedgerSpill``); without one they
        wait in memory."""
        self.store = store
        self.durability = durability
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.strict_wait = strict_wait
        self.spill = spill
        self._replaying: asyncio.Task[None] | None = None
        self._away_since: float | None = None
        self._queue: asyncio.Queue[_Entry | None] = asyncio.Queue(max_queue)
        # Each record becomes the store's row as it is queued, in its own call's time: a batch's
        # write then holds the event loop only for the batch's encoding, not every row's.
        self._prepare: Callable[[dict[str, Any]], Any] | None = getattr(store, "prepare", None)
        self._task: asyncio.Task[None] | None = None
        self._pending: list[Callable[[], LedgerRecord]] = []
        self._waiting: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.dropped = 0

    @property
    def defers(self) -> bool:
        """Whether a record may be made after the caller's answer (``add_soon``): batched, and room
        in the queue (when there is none, callers wait in ``add`` — the store's backpressure)."""
        return self.durability == "batched" and not self._queue.full()

    def add_soon(self, make: Callable[[], LedgerRecord]) -> None:
        """Make and queue a record once the event loop's current step is done: after the caller has
        had its answer, so the record's making is not in the answer's latency. Batched durability
        only (see ``defers``); ``close`` queues what is still pending."""
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._add_pending)
        self._pending.append(make)

    def _add_pending(self) -> None:
        pending, self._pending = self._pending, []
        for make in pending:
            try:
                record = make()
            except Exception as error:  # a bug in making one record must not lose the others
                log.error("ledger record could not be made", error=repr(error))
                continue
            row = record.row()
            entry = (self._item(row), None, time.monotonic(), row)
            try:
                self._queue.put_nowait(entry)
            except asyncio.QueueFull:  # filled within this loop turn: wait for room in a task
                waiting = asyncio.ensure_future(self._queue.put(entry))
                self._waiting.add(waiting)
                waiting.add_done_callback(self._waiting.discard)

    def _item(self, row: dict[str, Any]) -> Any:
        """The record as the store takes it; starts the writer if it is not running (and the replay
        of records a previous process left on disk)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="keel-ledger")
            if self.spill is not None and self.spill.pending:
                self._replay_soon()
        return row if self._prepare is None else self._prepare(row)

    async def add(self, record: LedgerRecord) -> None:
        """Queue ``record``; with ``strict``, return only once it is stored.

        Raises:
            Exception: ``strict`` only: the store refused the record after the writer's retries.
        """
        stored = asyncio.get_running_loop().create_future() if self.durability == "strict" else None
        row = record.row()
        entry = (self._item(row), stored, time.monotonic(), row)
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:  # the store is down or far behind: wait for room, never drop
            log.warning("ledger queue full: calls wait for the store", queued=self._queue.qsize())
            await self._queue.put(entry)
        if stored is not None:
            try:  # a caller that goes away does not unqueue its record
                async with asyncio.timeout(self.strict_wait):
                    await asyncio.shield(stored)
            except TimeoutError:
                raise LedgerUnavailableError(
                    "the ledger's store did not take this call's record in time; the record stays queued "
                    "and is written when the store is back",
                    retry_after=self.strict_wait,
                ) from None

    async def _drain(self) -> None:
        """Batches of up to ``batch_size``: what is queued now (strict) or within ``flush_interval``
        seconds (batched); ``None`` ends the loop. Items are taken with ``get_nowait``: no task per
        record, so the writer keeps up with thousands of calls a second."""
        while True:
            first = await self._queue.get()
            if first is None:
                return
            if self.durability != "strict" and self._queue.qsize() < self.batch_size - 1:
                with contextlib.suppress(TimeoutError):  # the interval, or until close() says flush
                    async with asyncio.timeout(self.flush_interval):
                        await self._closing.wait()
            batch = [first]
            done = False
            while len(batch) < self.batch_size and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    done = True
                    break
                batch.append(item)
            ledger_queue_depth.set(self._queue.qsize() + len(batch))
            await self._write(batch)
            ledger_queue_depth.set(self._queue.qsize())
            if done:
                return

    async def _write(self, batch: list[_Entry]) -> None:
        """Write ``batch``, retrying: while the store is away (connection errors), until it is back —
        the batch waits, the queue behind it fills, no record is dropped — except at shutdown; on any
        other error, five tries and the batch is dropped (logged and counted)."""
        failure: Exception | None = None
        attempt = 0
        while True:
            try:
                # A store that hangs (a pool reconnecting to a dead server) counts as away.
                async with asyncio.timeout(_WRITE_TIMEOUT_S):
                    await self.store.write([item for item, _, _, _ in batch])
                failure = None
                break
            except Exception as error:  # the store refused the batch: keep it and try again
                failure = error
                attempt += 1
                if store_unavailable(error) and self.spill is not None:
                    self._away(error)
                    self._spilled(batch)
                    return
                if store_unavailable(error) and not self._closing.is_set():
                    self._away(error)
                elif attempt >= 5:
                    break
                else:
                    log.error("ledger write failed", attempt=attempt, error=type(error).__name__)
                await asyncio.sleep(min(0.2 * 2 ** min(attempt - 1, 4), 2.0))
        if failure is not None:
            self.dropped += len(batch)
            ledger_records.labels(result="dropped").inc(len(batch))
            log.error("ledger records lost after retries", count=len(batch))
        else:
            self._back()
            ledger_records.labels(result="written").inc(len(batch))
            ledger_write_lag.observe(time.monotonic() - batch[0][2])
        for _, stored, _, _ in batch:
            if stored is not None and not stored.done():
                if failure is None:
                    stored.set_result(None)
                else:
                    stored.set_exception(failure)

    def _spilled(self, batch: list[_Entry]) -> None:
        """Put ``batch`` on disk (``fsync``ed for strict), acknowledge it, and replay it later."""
        assert self.spill is not None
        self.spill.append([row for _, _, _, row in batch], sync=self.durability == "strict")
        ledger_records.labels(result="spilled").inc(len(batch))
        for _, stored, _, _ in batch:
            if stored is not None and not stored.done():
                stored.set_result(None)  # on disk: recorded, and replayed when the store is back
        self._replay_soon()

    def _replay_soon(self) -> None:
        if self._replaying is None or self._replaying.done():
            self._replaying = asyncio.get_running_loop().create_task(
                self._replay(), name="keel-ledger-replay"
            )

    async def _replay(self) -> None:
        """Seal this process's spill file and replay every file there, until none is left."""
        assert self.spill is not None
        wait = 0.5
        while self.spill.pending:
            await asyncio.sleep(wait)
            self.spill.seal()
            try:
                await self.spill.replay(self.store, self.batch_size)
            except Exception as error:  # still away: try again later
                if not store_unavailable(error):
                    log.error("ledger replay failed", error=type(error).__name__)
                wait = min(wait * 2, 5.0)
            else:
                self._back()
                wait = 0.5

    def _away(self, error: BaseException) -> None:
        if self._away_since is None:
            self._away_since = time.monotonic()
            log.warning(
                "ledger store unreachable: records wait "
                + ("on disk" if self.spill is not None else "in memory")
                + " until it is back",
                error=type(error).__name__,
                queued=self._queue.qsize(),
            )

    def _back(self) -> None:
        if self._away_since is not None:
            lasted = time.monotonic() - self._away_since
            self._away_since = None
            log.warning("ledger store reachable again", outage_s=round(lasted, 3), queued=self._queue.qsize())

    async def close(self) -> None:
        """Write everything queued (and pending) at once, then close the store."""
        self._closing.set()
        self._add_pending()
        if self._waiting:
            await asyncio.gather(*self._waiting)
        if self._task is not None and not self._task.done():
            await self._queue.put(None)
            await self._task
        if self._replaying is not None:
            self._replaying.cancel()
        if self.spill is not None:  # one last try; what is left on disk the next start replays
            self.spill.seal()
            with contextlib.suppress(Exception):
                await self.spill.replay(self.store, self.batch_size)
        await self.store.close()


class MemoryLedger:
    """A ledger store in a list, for tests and for a gateway configured without a database."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def write(self, records: list[dict[str, Any]]) -> None:
        self.rows.extend(records)

    async def close(self) -> None:
        return None
