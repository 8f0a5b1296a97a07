"""One contract for every ledger engine: records are stored whole and spend is grouped alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from keel.privacy import UserIds
from keel.stores.base import LedgerStore
from keel.stores.state import open_ledger


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LedgerStore]:
    url = (
        f"sqlite:///{tmp_path}/l.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_schema_url")
    )
    store = open_ledger(url)
    yield store
    await store.close()


def record(user: str, cost: str, started_at: float = 1_795_400_000.0, **extra: object) -> dict[str, object]:
    return {
        "request_id": f"r-{user}-{cost}", "started_at": started_at, "status": "ok",
        "requested_model": "smart",
        "stream": False, "user": user, "route": "mock/ok", "input_tokens": 10, "cached_input_tokens": 2,
        "cache_write_tokens": 0, "output_tokens": 5, "reasoning_tokens": 1, "cost_usd": Decimal(cost),
        "latency_ms": 12.5, "ttft_ms": None, "cache_hit": False, "coalesced": False,
        "attempts": [{"route": "mock/ok", "outcome": "ok", "cost": cost}], **extra,
    }  # fmt: skip


async def test_records_round_trip(ledger: LedgerStore) -> None:
    """A record comes back with its attempts and an exact decimal cost."""
    await ledger.write([record("a", "0.000000123")])
    [row] = await ledger.rows()  # type: ignore[attr-defined]
    assert row["user"] == "a" and row["attempts"][0]["outcome"] == "ok"
    assert Decimal(row["cost_usd"]) == Decimal("0.000000123")


async def test_captured_content_round_trips_and_a_request_s_rows_are_found(ledger: LedgerStore) -> None:
    """The ``content`` column (migration 8) gives back the captured structure, NULL without one;
    ``rows(request_id=…)`` answers that request's records alone."""
    content = {
        "system": [{"type": "text", "content": "Be brief."}],
        "input": [{"role": "user", "parts": [{"type": "text", "content": "Mail [EMAIL]"}]}],
        "output": [{"role": "assistant", "parts": [], "finish_reason": "stop"}],
        "truncated": False,
    }
    await ledger.write([record("a", "0.1", content=content), record("b", "0.2")])
    [row] = await ledger.rows(request_id="r-a-0.1")  # type: ignore[attr-defined]
    assert row["content"] == content
    [other] = await ledger.rows(request_id="r-b-0.2")  # type: ignore[attr-defined]
    assert other["content"] is None


async def test_spend_groups_and_windows(ledger: LedgerStore) -> None:
    """Spend sums every token class and the cost per group, within a time window."""
    await ledger.write(
        [
            record("a", "0.5", cache_write_tokens=4),
            record("a", "0.25", cache_write_tokens=2),
            record("b", "1", started_at=1_795_500_000.0),
        ]
    )
    by_user = {row["user"]: row for row in await ledger.spend(["user"])}  # type: ignore[attr-defined]
    assert by_user["a"]["calls"] == 2 and by_user["a"]["cost_usd"] == Decimal("0.75")
    assert by_user["a"]["output_tokens"] == 10 and by_user["a"]["cache_write_tokens"] == 6
    early = await ledger.spend(["user"], until=1_795_450_000.0)  # type: ignore[attr-defined]
    assert [row["user"] for row in early] == ["a"]
    [day] = await ledger.spend(["day"], since=1_795_450_000.0)  # type: ignore[attr-defined]
    assert day["day"] == "2026-11-24" and day["calls"] == 1


async def test_unknown_grouping_is_refused(ledger: LedgerStore) -> None:
    """Grouping by something the ledger does not have says what it can group by."""
    with pytest.raises(ValueError, match="cannot group by colour"):
        await ledger.spend(["colour"])  # type: ignore[attr-defined]


async def test_records_queued_through_the_writer_arrive_whole(ledger: LedgerStore) -> None:
    """The writer hands the engine its own prepared rows (made as each record is queued); they are
    stored exactly as records written directly."""
    from keel.ledger import LedgerRecord, LedgerWriter

    assert getattr(ledger, "prepare", None) is not None  # both engines prepare their rows
    writer = LedgerWriter(ledger, durability="strict")  # add returns once the row is stored
    for user, cost in (("a", "0.000000123"), ("b", "2.5")):
        await writer.add(
            LedgerRecord(
                request_id=f"w-{user}", started_at=1_795_400_000.0, status="ok", requested_model="smart",
                stream=True, user=user, route="mock/ok", input_tokens=7, cost_usd=Decimal(cost),
                cache_hit=True, attempts=[{"route": "mock/ok", "outcome": "ok", "cost": cost}],
            )
        )  # fmt: skip
    rows = {row["user"]: row for row in await ledger.rows()}  # type: ignore[attr-defined]
    assert Decimal(rows["a"]["cost_usd"]) == Decimal("0.000000123") and Decimal(
        rows["b"]["cost_usd"]
    ) == Decimal("2.5")
    assert rows["a"]["attempts"] == [{"route": "mock/ok", "outcome": "ok", "cost": "0.000000123"}]
    assert bool(rows["b"]["stream"]) and bool(rows["b"]["cache_hit"]) and rows["b"]["input_tokens"] == 7


async def test_a_prompt_s_calls_come_back_with_their_version_and_variant(ledger: LedgerStore) -> None:
    """Records name the prompt's version (migration 4); ``prompt_calls`` returns that prompt's calls
    since a time, with what the statistics and the guards read."""
    await ledger.write(
        [
            record("a", "0.1", prompt="greet", prompt_version=2, variant="v2", record_id="1"),
            record("b", "0.2", prompt="greet", prompt_version=1, status="server_error", record_id="2"),
            record("c", "0.3", prompt="other", prompt_version=1, record_id="3"),
            record("d", "0.4", prompt="greet", prompt_version=1, started_at=1_795_300_000.0, record_id="4"),
        ]
    )
    rows = await ledger.prompt_calls("greet", since=1_795_350_000.0)  # type: ignore[attr-defined]
    assert [(r["prompt_version"], r["variant"], r["status"], Decimal(r["cost_usd"])) for r in rows] == [
        (2, "v2", "ok", Decimal("0.1")),
        (1, None, "server_error", Decimal("0.2")),
    ]
    assert [row["prompt_version"] for row in await ledger.rows()] == [1, 1, 1, 2]  # type: ignore[attr-defined]


async def test_stored_user_ids_are_rewritten_as_pseudonyms(ledger: LedgerStore) -> None:
    """``keel pseudonymize-ledger``'s rewrite: every row of a user changes, pseudonyms stay."""
    users = UserIds(b"key")
    already = users.ref("carol")
    assert already is not None
    await ledger.write([record("alice", "0.1"), record("alice", "0.2"), record(already, "0.3")])
    rename = ledger.rename_users  # type: ignore[attr-defined]
    assert await rename(lambda user: None if users.is_pseudonym(user) else users.ref(user)) == 2
    assert {row["user"] for row in await ledger.rows()} == {users.ref("alice"), already}  # type: ignore[attr-defined]
    assert await rename(lambda user: None if users.is_pseudonym(user) else users.ref(user)) == 0
