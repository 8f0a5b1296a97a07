"""``authenticate``: the master key, live virtual keys in either header, and clean refusals of the rest."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from keel.keys import VirtualKey
from keel.server import auth
from keel.server.auth import AuthFailed, Principal, authenticate
from keel.stores import open_key_store
from keel.stores.base import KeyStore
from keel.stores.sqlite import SQLiteKeyStore

MASTER = SecretStr("master-" + "m" * 32)


@pytest.fixture
async def keys(tmp_path: Path) -> AsyncIterator[KeyStore]:
    """A real SQLite key store (with the lookup cache, as the server opens it)."""
    store = open_key_store(f"sqlite:///{tmp_path}/keys.db")
    yield store
    await store.close()


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_auth_off_without_a_master_key(keys: KeyStore) -> None:
    """With no master key every caller is anonymous and may use every model, key or no key."""
    for headers in ({}, bearer("nonsense"), {"x-api-key": "sk-keel-whatever"}):
        principal = await authenticate(headers, keys, None)
        assert principal.kind == "anonymous" and principal.key_id is None
        assert principal.allows_model("anything")


async def test_master_key_by_bearer_or_x_api_key(keys: KeyStore) -> None:
    """The master key is accepted in either header and allows every model."""
    secret = MASTER.get_secret_value()
    for headers in (bearer(secret), {"x-api-key": secret}, {"Authorization": f"bearer  {secret} "}):
        principal = await authenticate(headers, keys, MASTER)
        assert principal.kind == "master" and principal.allows_model("gpt-4o")


async def test_master_key_is_compared_in_constant_time(
    keys: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The master key check goes through ``hmac.compare_digest`` on fixed-length digests."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert (await authenticate(bearer(MASTER.get_secret_value()), keys, MASTER)).kind == "master"
    with pytest.raises(AuthFailed):
        await authenticate(bearer("short"), keys, MASTER)
    assert len(seen) == 2 and all(len(a) == len(b) == 32 for a, b in seen)


async def test_virtual_key_by_either_header_carries_its_record(keys: KeyStore) -> None:
    """A live virtual key, sent as a bearer token or as ``x-api-key``, becomes its principal."""
    record, secret = await keys.create("ci", team="ml", models=["gpt-4o"], metadata={"owner": "ana"})
    for headers in (bearer(secret), {"x-api-key": secret}, {"X-Api-Key": secret}):
        principal = await authenticate(headers, keys, MASTER)
        assert principal == Principal("virtual", record.id, "ci", "ml", ("gpt-4o",), record.metadata)


async def test_bearer_wins_over_x_api_key(keys: KeyStore) -> None:
    """When both headers are present, the ``Authorization`` bearer token is the one checked."""
    record, secret = await keys.create("a")
    headers = {**bearer(secret), "x-api-key": "sk-keel-" + "z" * 43}
    assert (await authenticate(headers, keys, MASTER)).key_id == record.id


@pytest.mark.parametrize(
    ("models", "allowed", "refused"),
    [
        (None, ["gpt-4o", "anything"], []),
        (["gpt-4o"], ["gpt-4o"], ["gpt-4o-mini", "gpt"]),
        (["openai/*", "default"], ["openai/gpt-4o", "default"], ["anthropic/claude", "defaults"]),
    ],
)
async def test_model_restriction(
    keys: KeyStore, models: list[str] | None, allowed: list[str], refused: list[str]
) -> None:
    """``allows_model`` admits exactly the listed names, and prefixes written with a trailing ``*``."""
    _, secret = await keys.create("m", models=models)
    principal = await authenticate(bearer(secret), keys, MASTER)
    assert all(principal.allows_model(m) for m in allowed)
    assert not any(principal.allows_model(m) for m in refused)


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Basic dXNlcjpwYXNz"}, {"authorization": "Bearer "}, {"x-api-key": "  "}],
)
async def test_missing_key_is_refused(keys: KeyStore, headers: dict[str, str]) -> None:
    """A request without a usable key is told how to send one."""
    with pytest.raises(AuthFailed, match="missing API key") as failure:
        await authenticate(headers, keys, MASTER)
    assert failure.value.status == 401 and failure.value.code == "invalid_api_key"


@pytest.mark.parametrize("key", ["sk-keel-" + "x" * 43, "sk-proj-abc", "master", "sk-keel-short"])
async def test_unknown_key_is_refused_without_echoing_it(keys: KeyStore, key: str) -> None:
    """An unknown key gets "invalid API key", and the message never quotes it."""
    with pytest.raises(AuthFailed) as failure:
        await authenticate(bearer(key), keys, MASTER)
    assert failure.value.message == "invalid API key" and key not in str(failure.value)


async def test_without_a_key_store_only_the_master_key_works() -> None:
    """When the server has no key store, a virtual-key-shaped token is simply invalid."""
    with pytest.raises(AuthFailed, match="invalid API key"):
        await authenticate(bearer("sk-keel-" + "x" * 43), None, MASTER)
    assert (await authenticate(bearer(MASTER.get_secret_value()), None, MASTER)).kind == "master"


async def test_revoked_key_is_refused_at_once_in_this_process(keys: KeyStore) -> None:
    """Revoking through the store the server authenticates with takes effect on the next request."""
    record, secret = await keys.create("soon-gone")
    assert (await authenticate(bearer(secret), keys, MASTER)).kind == "virtual"
    assert await keys.revoke(record.id)
    with pytest.raises(AuthFailed, match=r"^API key revoked$"):
        await authenticate(bearer(secret), keys, MASTER)


async def test_revocation_by_another_process_is_seen_within_the_cache_ttl(tmp_path: Path) -> None:
    """A revocation made elsewhere (``keel keys revoke``) is honoured once the cached lookup expires."""
    url = f"sqlite:///{tmp_path}/keys.db"
    server_side, cli_side = open_key_store(url, cache_ttl=0.2), open_key_store(url, cache_ttl=0)
    try:
        record, secret = await cli_side.create("k")
        assert (await authenticate(bearer(secret), server_side, MASTER)).kind == "virtual"
        await cli_side.revoke(record.id)
        await asyncio.sleep(0.25)
        with pytest.raises(AuthFailed, match="revoked"):
            await authenticate(bearer(secret), server_side, MASTER)
    finally:
        await server_side.close()
        await cli_side.close()


async def test_expired_key_is_refused(tmp_path: Path) -> None:
    """A key past its ``expires_at`` is refused with its own message, even from the cache."""
    store = SQLiteKeyStore(tmp_path / "k.db")
    try:
        record, secret = await store.create("old", expires_at=datetime.now(UTC) + timedelta(hours=1))
        # Age the stored key as if an hour had passed.
        db = await store._conn()
        await db.execute(
            "UPDATE virtual_keys SET expires_at = ? WHERE id = ?", ("2020-01-01T00:00:00.000000Z", record.id)
        )
        with pytest.raises(AuthFailed, match=r"^API key expired$"):
            await authenticate(bearer(secret), store, MASTER)
    finally:
        await store.close()


async def test_a_cached_key_expires_on_time(keys: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Expiry is judged on every request, so a cached key stops working when its time comes."""
    _, secret = await keys.create("brief", expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert (await authenticate(bearer(secret), keys, MASTER)).kind == "virtual"
    later = datetime.now(UTC) + timedelta(minutes=6)
    real_status = VirtualKey.status
    monkeypatch.setattr(VirtualKey, "status", lambda self, now=None: real_status(self, now or later))
    with pytest.raises(AuthFailed, match="expired"):
        await authenticate(bearer(secret), keys, MASTER)


async def test_no_key_reaches_a_log_line(keys: KeyStore, caplog: pytest.LogCaptureFixture) -> None:
    """Through every path — success, unknown, revoked, expired, master — no secret is logged."""
    secrets_: list[str] = [MASTER.get_secret_value()]
    with caplog.at_level(logging.DEBUG):
        _, secret = await keys.create("logged", expires_at=datetime.now(UTC) + timedelta(hours=1))
        secrets_.append(secret)
        revoked, revoked_secret = await keys.create("revoked")
        secrets_.append(revoked_secret)
        await keys.revoke(revoked.id)
        attempts: list[dict[str, Any]] = [
            bearer(secret),
            bearer(revoked_secret),
            bearer(MASTER.get_secret_value()),
            bearer("sk-keel-" + "u" * 43),
        ]
        for headers in attempts:
            with contextlib.suppress(AuthFailed):
                await authenticate(headers, keys, MASTER)
    assert "api key refused" in caplog.text and revoked.id in caplog.text
    for secret_ in [*secrets_, "sk-keel-" + "u" * 43]:
        assert secret_ not in caplog.text
        assert secret_[8:] not in caplog.text
