"""The ledger writer: strict records are stored before ``add`` returns, committed together in groups."""

from __future__ import annotations

import asyncio
from typing import Any

from keel.ledger import LedgerRecord, LedgerWriter


class SlowStore:
    """A ledger store whose every write takes 20 ms, counting its writes."""

    def __init__(self) -> None:
        self.writes: list[list[dict[str, Any]]] = []

    async def write(self, records: list[dict[str, Any]]) -> None:
        await asyncio.sleep(0.02)
        self.writes.append(list(records))

    async def close(self) -> None:
        return None


def record(n: int) -> LedgerRecord:
    return LedgerRecord(request_id=f"r{n}", started_at=0.0, status="ok", requested_model="m", stream=False)


async def test_strict_add_returns_once_stored_and_groups_commits() -> None:
    """Each strict ``add`` returns only after its record is written; concurrent ones share writes."""
    store = SlowStore()
    writer = LedgerWriter(store, durability="strict")

    async def add(n: int) -> None:
        await writer.add(record(n))
        assert any(row["request_id"] == f"r{n}" for batch in store.writes for row in batch)

    await asyncio.gather(*(add(n) for n in range(100)))
    await writer.close()
    assert sum(len(batch) for batch in store.writes) == 100
    assert len(store.writes) <= 5  # one write per group, not one per record


async def test_batched_add_returns_at_once_and_close_flushes() -> None:
    """A batched ``add`` does not wait for the store; ``close`` writes whatever is queued."""
    store = SlowStore()
    writer = LedgerWriter(store, durability="batched", flush_interval=10)
    for n in range(10):
        await writer.add(record(n))
    assert store.writes == []
    await writer.close()
    assert [row["request_id"] for row in store.writes[0]] == [f"r{n}" for n in range(10)]


async def test_a_deferred_record_is_made_after_the_callers_step() -> None:
    """``add_soon`` makes nothing in the caller's step; the next loop turn queues it, in order."""
    store = SlowStore()
    writer = LedgerWriter(store, durability="batched", flush_interval=0.01)
    made: list[int] = []

    def make(n: int) -> LedgerRecord:
        made.append(n)
        return record(n)

    assert writer.defers
    for n in range(3):
        writer.add_soon(lambda n=n: make(n))
    assert made == []
    await asyncio.sleep(0)
    assert made == [0, 1, 2]
    await writer.close()
    assert [row["request_id"] for batch in store.writes for row in batch] == ["r0", "r1", "r2"]


async def test_close_in_the_same_step_keeps_deferred_records() -> None:
    """A gateway closed right after a call (no loop turn between) still stores that call's record;
    a record that cannot be made does not cost the others theirs."""
    store = SlowStore()
    writer = LedgerWriter(store, durability="batched", flush_interval=0.01)

    def broken() -> LedgerRecord:
        raise ValueError("bug")

    writer.add_soon(lambda: record(1))
    writer.add_soon(broken)
    writer.add_soon(lambda: record(2))
    await writer.close()
    assert [row["request_id"] for batch in store.writes for row in batch] == ["r1", "r2"]


async def test_strict_and_a_full_queue_do_not_defer() -> None:
    """Strict callers wait for the store, and so do callers when the queue is full (backpressure)."""
    assert not LedgerWriter(SlowStore(), durability="strict").defers
    writer = LedgerWriter(SlowStore(), durability="batched", flush_interval=0.01, max_queue=2)
    for n in range(2):
        await writer.add(record(n))
    assert not writer.defers
    await writer.close()
