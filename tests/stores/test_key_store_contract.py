"""One contract for every key store engine: SQLite, PostgreSQL, and the caching wrapper over SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keel.keys import KEY_PREFIX, hash_key
from keel.stores import open_key_store
from keel.stores.base import KeyStore

OpenStore = Callable[[], KeyStore]


@pytest.fixture(params=["sqlite", "postgres", "cached-sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_schema_url"))
    return f"sqlite:///{tmp_path}/keys.db"


@pytest.fixture
async def open_store(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[OpenStore]:
    """Opens stores on the test's database (as many as a test wants), closing them all afterwards."""
    cache_ttl = 30.0 if "cached" in request.node.callspec.id else 0.0
    opened: list[KeyStore] = []

    def factory() -> KeyStore:
        opened.append(open_key_store(database_url, cache_ttl=cache_ttl))
        return opened[-1]

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
def store(open_store: OpenStore) -> KeyStore:
    return open_store()


async def test_create_returns_the_secret_and_stores_its_hash(store: KeyStore) -> None:
    """A new key is ``sk-keel-`` plus 43 random characters; the record keeps its hash and a short hint."""
    record, secret = await store.create("ci")
    assert secret.startswith(KEY_PREFIX) and len(secret) == len(KEY_PREFIX) + 43
    assert record.key_hash == hash_key(secret)
    assert record.hint == f"{secret[:12]}…{secret[-4:]}"
    assert record.status() == "active" and record.models is None and record.team is None


async def test_get_and_find_by_hash_return_the_same_record(store: KeyStore) -> None:
    """A key reads back field for field, by id and by hash."""
    expires = datetime.now(UTC) + timedelta(days=3)
    record, secret = await store.create(
        "svc", team="ml", models=["gpt-4o", "openai/*"], expires_at=expires, metadata={"owner": "ünï"}
    )
    assert await store.get(record.id) == record
    assert await store.find_by_hash(hash_key(secret)) == record
    assert record.expires_at == expires and record.models == ("gpt-4o", "openai/*")
    assert dict(record.metadata) == {"owner": "ünï"}


async def test_unknown_keys_are_none(store: KeyStore) -> None:
    """An id or hash that was never issued finds nothing."""
    assert await store.get("key_nope") is None
    assert await store.find_by_hash(hash_key(KEY_PREFIX + "x" * 43)) is None


@pytest.mark.parametrize("odd", ["", "\x00", "key_\x00", "é" * 300, "' OR 1=1 --"])
async def test_odd_ids_and_teams_find_nothing(store: KeyStore, odd: str) -> None:
    """Lookups by ids or teams no key can have (NUL, quotes, long) find nothing and raise nothing."""
    await store.create("present", team="t")
    assert await store.get(odd) is None
    assert await store.revoke(odd) is False
    assert await store.list(team=odd) == []


async def test_list_is_oldest_first_and_filters_by_team(store: KeyStore) -> None:
    """Listing returns keys in creation order, optionally one team's."""
    a, _ = await store.create("a", team="red")
    b, _ = await store.create("b", team="blue")
    c, _ = await store.create("c", team="red")
    assert [k.id for k in await store.list()] == [a.id, b.id, c.id]
    assert [k.id for k in await store.list(team="red")] == [a.id, c.id]
    assert await store.list(team="green") == []


async def test_revoke_hides_from_list_but_keeps_the_record(store: KeyStore) -> None:
    """A revoked key leaves the default listing, stays findable by hash, and reports itself revoked."""
    kept, _ = await store.create("kept")
    gone, secret = await store.create("gone")
    assert await store.revoke(gone.id) is True
    assert [k.id for k in await store.list()] == [kept.id]
    assert [k.id for k in await store.list(include_revoked=True)] == [kept.id, gone.id]
    found = await store.find_by_hash(hash_key(secret))
    assert found is not None and found.status() == "revoked" and found.revoked_at is not None


async def test_revoke_is_idempotent_and_false_for_unknown_ids(store: KeyStore) -> None:
    """Revoking twice keeps the first revocation time; an unknown id is reported as such."""
    record, _ = await store.create("twice")
    assert await store.revoke(record.id)
    first = await store.get(record.id)
    await asyncio.sleep(0.01)
    assert await store.revoke(record.id)
    again = await store.get(record.id)
    assert first is not None and again is not None and again.revoked_at == first.revoked_at
    assert await store.revoke("key_nope") is False


async def test_expiry_is_judged_against_the_stored_time(store: KeyStore) -> None:
    """A key is active before its ``expires_at`` and expired from it on."""
    expires = datetime.now(UTC) + timedelta(hours=1)
    record, _ = await store.create("temp", expires_at=expires)
    stored = await store.get(record.id)
    assert stored is not None
    assert stored.status(now=expires - timedelta(seconds=1)) == "active"
    assert stored.status(now=expires) == "expired"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"name": "x", "team": "  "}, "team must be a non-empty string"),
        ({"name": "x", "models": "gpt-4o"}, "models must be a list"),
        ({"name": "x", "models": []}, "at least one model"),
        ({"name": "x", "expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "not in the future"),
        ({"name": "x", "metadata": {"k": 1}}, "metadata['k'] must be a string"),
        ({"name": "x", "metadata": {"k": "a\x00b"}}, "without NUL"),
        ({"name": "x\x00"}, "printable"),
        ({"name": "x" * 201}, "at most 200"),
        ({"name": "x", "metadata": {"budget_usd": "lots"}}, "budget_usd must be a positive USD amount"),
        ({"name": "x", "metadata": {"budget_usd": "-5"}}, "budget_usd must be a positive USD amount"),
        ({"name": "x", "metadata": {"budget_usd": "NaN"}}, "budget_usd must be a positive USD amount"),
        ({"name": "x", "metadata": {"budget_usd": "5", "budget_window": "week"}}, "budget_window must be"),
        (
            {"name": "x", "metadata": {"budget_window": "day"}},
            "budget_window needs budget_usd or budget_tokens",
        ),
        (
            {"name": "x", "metadata": {"budget_tokens": "lots"}},
            "budget_tokens must be a positive whole number",
        ),
        ({"name": "x", "metadata": {"budget_tokens": "0"}}, "budget_tokens must be a positive whole number"),
        ({"name": "x", "metadata": {"budget_tokens": "9", "budget_window": "week"}}, "budget_window must be"),
    ],
)
async def test_bad_fields_are_refused_before_anything_is_stored(
    store: KeyStore, fields: dict[str, object], message: str
) -> None:
    """Every engine refuses the same bad fields with the same ``ValueError`` and stores nothing."""
    fields = dict(fields)
    name = fields.pop("name")
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        await store.create(name, **fields)  # type: ignore[arg-type]
    assert await store.list(include_revoked=True) == []


async def test_keys_outlive_the_store_and_a_second_opening_does_not_migrate_twice(
    open_store: OpenStore,
) -> None:
    """A key written by one store is read by another opened later on the same database."""
    first = open_store()
    record, secret = await first.create("durable")
    await first.close()
    second = open_store()
    assert await second.find_by_hash(hash_key(secret)) == record
    assert len(await second.list()) == 1


async def test_stores_opening_a_fresh_database_together_both_work(open_store: OpenStore) -> None:
    """Two stores migrating one empty database at once (two processes starting) do not collide."""
    stores = [open_store() for _ in range(3)]
    created = await asyncio.gather(*(s.create(f"k{i}") for i, s in enumerate(stores)))
    listed = await stores[0].list()
    assert sorted(k.id for k in listed) == sorted(record.id for record, _ in created)


async def test_concurrent_creates_are_all_kept_and_distinct(store: KeyStore) -> None:
    """Fifty keys created at once are fifty distinct ids, secrets and hashes."""
    created = await asyncio.gather(*(store.create(f"n{i}") for i in range(50)))
    assert len({record.id for record, _ in created}) == 50
    assert len({secret for _, secret in created}) == 50
    assert len(await store.list()) == 50


def test_sqlite_file_holds_hashes_never_secrets(tmp_path: Path) -> None:
    """Nothing in the SQLite file or its WAL contains a secret; the hash is there."""
    url = f"sqlite:///{tmp_path}/k.db"

    async def create() -> str:
        store = open_key_store(url, cache_ttl=0)
        try:
            _, secret = await store.create("plain", metadata={"a": "b"})
            return secret
        finally:
            await store.close()

    secret = asyncio.run(create())
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("k.db*"))
    assert secret.encode() not in raw and secret[len(KEY_PREFIX) :].encode() not in raw
    with sqlite3.connect(tmp_path / "k.db") as db:
        rows = db.execute("SELECT * FROM virtual_keys").fetchall()
        version = db.execute("SELECT version FROM schema_version WHERE component = 'keys'").fetchone()
        mode = db.execute("PRAGMA journal_mode").fetchone()
    assert hash_key(secret) in rows[0]
    assert version == (1,) and mode == ("wal",)


async def test_postgres_rows_hold_hashes_never_secrets(postgres_schema_url: str) -> None:
    """No column of the PostgreSQL row contains the secret; the hash is there."""
    import asyncpg  # type: ignore[import-untyped]

    store = open_key_store(postgres_schema_url, cache_ttl=0)
    try:
        _, secret = await store.create("plain")
    finally:
        await store.close()
    connection = await asyncpg.connect(postgres_schema_url)
    try:
        row = await connection.fetchval("SELECT row_to_json(k)::text FROM virtual_keys k")
        version = await connection.fetchval("SELECT version FROM schema_version WHERE component = 'keys'")
    finally:
        await connection.close()
    assert secret[len(KEY_PREFIX) :] not in row and hash_key(secret) in row
    assert version == 1


def test_a_missing_postgres_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without asyncpg, choosing PostgreSQL fails with the pip command that fixes it."""
    monkeypatch.delitem(sys.modules, "keel.stores.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(ImportError, match=r"pip install 'keel\[postgres\]'"):
        open_key_store("postgresql://u@127.0.0.1/db")


def test_an_unknown_database_url_is_refused() -> None:
    """A URL no engine serves is a ``ValueError`` naming the schemes that work."""
    with pytest.raises(
        ValueError, match=r"mysql:// has no key store; use sqlite:///keel.db or postgresql://"
    ):
        open_key_store("mysql://u:secret@host/db")
