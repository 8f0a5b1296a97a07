"""One contract for every prompt store engine (SQLite and PostgreSQL): versions are immutable and
numbered once, a label moves only by compare-and-set, every move is recorded, and every change
bumps the revision the registries poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from keel.errors import PromptError, PromptLabelConflictError
from keel.prompts import PromptStore, PromptVersion, open_prompt_store
from keel.prompts.split import allocate

OpenStore = Callable[[], PromptStore]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_schema_url"))
    return f"sqlite:///{tmp_path}/prompts.db"


@pytest.fixture
async def open_store(database_url: str) -> AsyncIterator[OpenStore]:
    opened: list[PromptStore] = []

    def factory() -> PromptStore:
        opened.append(open_prompt_store(database_url))
        return opened[-1]

    yield factory
    for store in opened:
        await store.close()


def version(number: int, text: str = "Hello {who}") -> PromptVersion:
    return PromptVersion(name="greet", version=number, model="smart", user_template=text, params={"seed": 1})


async def test_a_version_reads_back_whole_and_its_number_is_taken_once(open_store: OpenStore) -> None:
    """What is stored comes back equal (from the database); storing the number again is refused."""
    store = open_store()
    await store.add_version(version(1), by="alice")
    with pytest.raises(PromptError, match="already has version 1"):
        await store.add_version(version(1, "Other {who}"), by="bob")
    snapshot = await open_store().snapshot()
    assert snapshot.versions["greet"][1] == version(1)
    assert snapshot.versions["greet"][1].source == "database"


async def test_a_label_moves_by_compare_and_set_and_every_move_is_recorded(open_store: OpenStore) -> None:
    """Set, move and remove succeed when they expect the current value; a stale expectation is
    refused and changes nothing; the history lists the moves newest first."""
    store = open_store()
    for number in (1, 2):
        await store.add_version(version(number), by="alice")
    await store.move_label("greet", "production", 1, expected=None, by="alice")
    with pytest.raises(PromptLabelConflictError, match="points at version 1, not nothing"):
        await store.move_label("greet", "production", 2, expected=None, by="bob")
    await store.move_label("greet", "production", 2, expected=1, by="bob", reason="release")
    await store.move_label("greet", "staging", 1, expected=None, by="carol")
    await store.move_label("greet", "staging", None, expected=1, by="carol")

    snapshot = await store.snapshot()
    assert snapshot.labels == {"greet": {"production": 2}}
    assert snapshot.known_labels == {("greet", "production"), ("greet", "staging")}
    moves = await store.history("greet")
    assert [(m.label, m.from_version, m.to_version, m.moved_by, m.reason) for m in moves] == [
        ("staging", 1, None, "carol", "move"),
        ("staging", None, 1, "carol", "move"),
        ("production", 1, 2, "bob", "release"),
        ("production", None, 1, "alice", "move"),
    ]
    assert [m.to_version for m in await store.history("greet", "production", limit=1)] == [2]


async def test_of_concurrent_moves_from_one_value_exactly_one_wins(open_store: OpenStore) -> None:
    """Ten stores race to move production from 1: one move lands, nine are conflicts, one record."""
    first = open_store()
    for number in range(1, 12):
        await first.add_version(version(number), by="alice")
    await first.move_label("greet", "production", 1, expected=None, by="alice")
    stores = [open_store() for _ in range(10)]

    results = await asyncio.gather(
        *(s.move_label("greet", "production", i + 2, expected=1, by=f"r{i}") for i, s in enumerate(stores)),
        return_exceptions=True,
    )

    won = [r for r in results if not isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(r, PromptLabelConflictError) for r in results if r not in won)
    assert (await first.snapshot()).labels["greet"]["production"] == won[0].to_version  # type: ignore[union-attr]
    assert len(await first.history("greet", "production")) == 2


async def test_every_change_bumps_the_revision(open_store: OpenStore) -> None:
    """A new version and a label move each raise the revision; a refused move does not."""
    store = open_store()
    start = await store.revision()
    await store.add_version(version(1), by="a")
    await store.move_label("greet", "production", 1, expected=None, by="a")
    with pytest.raises(PromptLabelConflictError):
        await store.move_label("greet", "production", 1, expected=None, by="a")
    assert await store.revision() == start + 2
    assert (await store.snapshot()).revision == start + 2


async def test_a_split_is_a_label_target_compared_and_recorded_like_a_version(open_store: OpenStore) -> None:
    """A label moves from a version to a split and back by compare-and-set on the whole split; the
    snapshot and the history return the split as stored."""
    store = open_store()
    for number in (1, 2):
        await store.add_version(version(number), by="a")
    await store.move_label("greet", "production", 1, expected=None, by="a")
    split = allocate(1, {1: 90, 2: 10})
    await store.move_label("greet", "production", split, expected=1, by="a")
    with pytest.raises(
        PromptLabelConflictError, match=r"points at a split \(1: 90%, 2: 10%\), not version 1"
    ):
        await store.move_label("greet", "production", 2, expected=1, by="a")
    assert (await open_store().snapshot()).labels["greet"]["production"] == split
    await store.move_label("greet", "production", 2, expected=split, by="a")
    moves = await store.history("greet", "production")
    assert [(m.from_version, m.to_version) for m in moves] == [(split, 2), (1, split), (None, 1)]
