"""Spend reports are grouped by exactly the dimensions they name, and alike on SQLite and PostgreSQL.

The rows mix what reports get wrong: fallbacks (the requested alias and the answering model differ,
and one upstream model answers several aliases), budget refusals (no model, no route, no cost),
calls without a key, team or user, costs written at different decimal scales (one of them half a
nano-dollar), and two days.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from keel.policies.budget import NANO, to_nano
from keel.reports import COLUMNS, render
from keel.stores.base import LedgerStore
from keel.stores.state import open_ledger

DIMENSIONS = ("key", "team", "user", "model", "route", "day")
GROUPINGS = [list(group) for size in range(len(DIMENSIONS) + 1) for group in combinations(DIMENSIONS, size)]
DAY_1, DAY_2 = 1_795_400_000.0, 1_795_500_000.0  # 2026-11-23 and 2026-11-24, UTC


def call(
    n: int, key: str | None, requested: str, answered: str | None, cost: str, **extra: Any
) -> dict[str, Any]:
    """A ledger record: ``answered`` None is a refused call (no route, no tokens, no cost)."""
    refused = answered is None
    route = None if refused else f"mock/{answered}"
    return {
        "request_id": f"r{n}", "started_at": extra.pop("started_at", DAY_1 + n), "requested_model": requested,
        "status": "budget_exceeded" if refused else "ok", "stream": False, "key_id": key,
        "route": route, "model": answered, "input_tokens": 0 if refused else 10 + n,
        "cached_input_tokens": 0 if refused else n % 3, "cache_write_tokens": 0 if refused else n % 2,
        "output_tokens": 0 if refused else 5 + n, "reasoning_tokens": 0 if refused else n % 4,
        "cost_usd": Decimal(cost), "latency_ms": 1.0, "ttft_ms": None, "cache_hit": False, "coalesced": False,
        "attempts": [{"route": route or "mock/a", "outcome": "refused" if refused else "ok"}], **extra,
    }  # fmt: skip


ROWS = [
    # One answered call and two refused ones on one key: one row by key and model, not two.
    call(0, "k1", "smart", "b", "0.001100", team="research", user="ann"),  # smart fell back to b
    call(1, "k1", "smart", None, "0", team="research", user="ann"),
    call(2, "k1", "smart", None, "0", team="research", user="ann"),
    # b answers three aliases: grouping by the answering model would merge them.
    call(3, "k2", "cheap", "b", "0.0004", team="research", user="bob"),
    call(4, "k2", "cheap", "b", "0.00040", team="research", user="bob", started_at=DAY_2),
    call(5, "k2", "fast", "b", "0.000400000", team="ops", user="bob", started_at=DAY_2 + 5),
    # The master key: no key, team or user; half a nano-dollar rounds up, as budgets settle.
    call(6, None, "smart", "a", "0.0020000005", started_at=DAY_2 + 6),
    call(7, "k3", "fast", "a", "0.0004", team="ops"),
    call(8, "k3", "fast", None, "0", team="ops", started_at=DAY_2 + 8),
    call(9, "k4", "fast", "c", "0"),  # an answer that cost nothing: ties with the refusals' route
]


def reference(rows: Sequence[dict[str, Any]], by: Sequence[str]) -> list[dict[str, Any]]:
    """What a report must say, worked out in Python from the records themselves."""
    value: dict[str, Callable[[dict[str, Any]], Any]] = {
        "key": lambda row: row["key_id"],
        "team": lambda row: row.get("team"),
        "user": lambda row: row.get("user"),
        "model": lambda row: row["requested_model"],
        "route": lambda row: row["route"],
        "day": lambda row: datetime.fromtimestamp(row["started_at"], UTC).date().isoformat(),
        "hour": lambda row: datetime.fromtimestamp(row["started_at"], UTC).strftime("%Y-%m-%dT%H"),
        "month": lambda row: datetime.fromtimestamp(row["started_at"], UTC).strftime("%Y-%m"),
    }
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        labels = tuple(value[name](row) for name in by)
        group = groups.setdefault(labels, {**dict(zip(by, labels, strict=True)), **dict.fromkeys(COLUMNS, 0)})
        group["calls"] += 1
        group["tokens"] += row["input_tokens"] + row["output_tokens"]  # what token budgets count
        for column in COLUMNS[2:]:
            group[column] += row[column]
        group["cost_usd"] += Decimal(to_nano(row["cost_usd"])) / NANO - row["cost_usd"]  # in nano-dollars
    return list(groups.values())


def unordered(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    return sorted((tuple(sorted(row.items(), key=lambda item: item[0])) for row in rows), key=repr)


async def opened(url: str) -> LedgerStore:
    store = open_ledger(url)
    await store.write(ROWS)
    return store


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LedgerStore]:
    url = (
        f"sqlite:///{tmp_path}/l.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_schema_url")
    )
    store = await opened(url)
    yield store
    await store.close()


@pytest.fixture
async def both(tmp_path: Path, postgres_schema_url: str) -> AsyncIterator[tuple[LedgerStore, LedgerStore]]:
    sqlite, postgres = await opened(f"sqlite:///{tmp_path}/l.db"), await opened(postgres_schema_url)
    yield sqlite, postgres
    await sqlite.close()
    await postgres.close()


async def test_one_answered_and_two_refused_calls_are_one_row(ledger: LedgerStore) -> None:
    """A key's answered call and its two budget refusals on one alias are one row by key and model."""
    rows = await ledger.spend(["key", "model"])  # type: ignore[attr-defined]
    [k1] = [row for row in rows if row["key"] == "k1"]
    assert (k1["model"], k1["calls"], k1["cost_usd"]) == ("smart", 3, Decimal("0.0011"))


async def test_every_grouping_counts_what_it_names(ledger: LedgerStore) -> None:
    """Every grouping — key, team, user, model (the alias asked for), route, day, each combination
    and none — sums calls, every token class and cost per group exactly as the records say."""
    for by in GROUPINGS:
        assert unordered(await ledger.spend(by)) == unordered(reference(ROWS, by)), by  # type: ignore[attr-defined]


@pytest.mark.parametrize("by", [["hour"], ["month"], ["key", "hour"], ["month", "model"]])
async def test_hour_and_month_count_what_they_name(ledger: LedgerStore, by: list[str]) -> None:
    """Grouping by the UTC hour (``2026-11-23T08``) or month (``2026-11``), the calendar periods of
    budget windows, sums calls, tokens and cost per period exactly as the records say."""
    assert unordered(await ledger.spend(by)) == unordered(reference(ROWS, by)), by  # type: ignore[attr-defined]


async def test_engines_give_identical_reports(both: tuple[LedgerStore, LedgerStore]) -> None:
    """SQLite and PostgreSQL return the same report for the same rows — values, types, order and
    the rendered JSON — for every grouping, with and without a time window."""
    sqlite, postgres = both
    for by in [*GROUPINGS, ["hour", "key"], ["month"]]:
        for window in ({}, {"since": DAY_1 + 1, "until": DAY_2 + 6}):
            mine = await sqlite.spend(by, **window)  # type: ignore[attr-defined]
            theirs = await postgres.spend(by, **window)  # type: ignore[attr-defined]
            assert mine == theirs, (by, window)
            assert [{k: type(v) for k, v in row.items()} for row in mine] == [
                {k: type(v) for k, v in row.items()} for row in theirs
            ]
            assert render(mine, by, "json") == render(theirs, by, "json"), (by, window)


async def test_report_is_ordered_by_cost_then_groups(ledger: LedgerStore) -> None:
    """The most expensive group comes first; groups that cost the same follow in the order of their
    labels, a missing label (no key, a refused call's route) first."""
    rows = await ledger.spend(["route"])  # type: ignore[attr-defined]
    assert [row["route"] for row in rows] == ["mock/a", "mock/b", None, "mock/c"]
    rows = await ledger.spend(["model"])  # type: ignore[attr-defined]
    assert [(row["model"], row["cost_usd"]) for row in rows] == [
        ("smart", Decimal("0.003100001")), ("cheap", Decimal("0.0008")), ("fast", Decimal("0.0008"))
    ]  # fmt: skip


async def test_an_empty_window_is_one_row_of_zeros(ledger: LedgerStore) -> None:
    """Without grouping, a window with no calls reports zero calls, tokens and cost, not nothing."""
    [row] = await ledger.spend([], since=DAY_2 * 2)  # type: ignore[attr-defined]
    assert row == {**dict.fromkeys(COLUMNS[:-1], 0), "cost_usd": Decimal(0)}
