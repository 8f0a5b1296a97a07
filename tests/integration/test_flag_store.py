"""The flag store on SQLite and PostgreSQL: changes by compare-and-set, each recorded (who, when,
what), one revision number; and the stale rule while PostgreSQL is away."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keel.errors import FlagConflictError, FlagStoreUnavailableError
from keel.flags import Flag, edits, open_flags
from keel.flags.registry import FlagRegistry
from keel.flags.store import FlagStore, open_flag_store

from ._relay import CuttableRelay
from .conftest import GatewayFactory, user


@pytest.fixture(params=["sqlite", "postgres"])
def flag_store(request: pytest.FixtureRequest, tmp_path: Path) -> FlagStore:
    if request.param == "sqlite":
        return open_flag_store(f"sqlite:///{tmp_path}/flags.db")
    return open_flag_store(request.getfixturevalue("postgres_schema_url"))


async def test_changes_are_compared_and_set_and_recorded(flag_store: FlagStore) -> None:
    """A new flag must not exist yet, a change must name the revision it read; each change bumps
    the store's revision and is kept with who made it and the flag before and after."""
    try:
        start = await flag_store.revision()
        assert await flag_store.put(Flag(name="f"), name="f", expected=None, by="ana", action="set") == 1
        with pytest.raises(FlagConflictError):
            await flag_store.put(Flag(name="f"), name="f", expected=None, by="bob", action="set")
        off = Flag(name="f", enabled=False)
        assert await flag_store.put(off, name="f", expected=1, by="bob", action="kill") == 2
        with pytest.raises(FlagConflictError):
            await flag_store.put(Flag(name="f"), name="f", expected=1, by="eve", action="set")
        snapshot = await flag_store.snapshot()
        assert snapshot.revision == start + 2 and snapshot.revisions == {"f": 2}
        assert snapshot.flags["f"].enabled is False
        kill, made = await flag_store.history("f")
        assert (kill.action, kill.by, kill.before["enabled"], kill.after["enabled"]) == (
            "kill",
            "bob",
            True,
            False,
        )
        assert (made.action, made.by, made.before) == ("set", "ana", None)
    finally:
        await flag_store.close()


async def test_concurrent_budget_offs_are_decided_once(tmp_path: Path) -> None:
    """Ten registries turning one flag off for its budget at once: exactly one does it."""
    url = f"sqlite:///{tmp_path}/flags.db"
    from keel.config import load_config

    config = load_config({"database": url})
    registries = [FlagRegistry(config) for _ in range(10)]
    await registries[0].change("f", edits.set_spec("f", {"default": "on"}), by="t", action="set")
    for registry in registries:
        await registry.refresh()
    won = await asyncio.gather(*(registry.exhaust("f", "b", 60) for registry in registries))
    assert won.count(True) == 1
    for registry in registries:
        await registry.aclose()


async def test_while_postgresql_is_away_flags_are_served_stale_then_refused(
    gateway_for: GatewayFactory, relayed: tuple[CuttableRelay, str], uid: Callable[[str], str]
) -> None:
    """With the database cut, the flags last read are served, marked with their age, until
    flags.max_stale; then a call naming a feature is a 503 flag_store_unavailable (a call without
    one is served); when the database is back, fresh again."""
    relay, database = relayed
    gateway = gateway_for(
        {"m": [f"mock/{uid('ok')}"]}, database=database, ledger={"enabled": False},
        flags={"refresh_interval": 0.1, "max_stale": 1.0},
    )  # fmt: skip
    flags = gateway.flags
    assert isinstance(flags, FlagRegistry)
    await flags.change("f", edits.set_spec("f", {"default": "on"}), by="t", action="set")
    await gateway.chat("m", user(), feature="f")

    await relay.cut()
    await asyncio.sleep(0.4)
    call = gateway.stream("m", user(), feature="f")
    async for _ in call:
        pass
    assert call.call.options["feature_stale"] >= 0.2
    await asyncio.sleep(1.0)
    with pytest.raises(FlagStoreUnavailableError) as refused:
        await gateway.chat("m", user(), feature="f")
    assert refused.value.status == 503 and refused.value.code == "flag_store_unavailable"
    await gateway.chat("m", user())

    await relay.start()
    deadline = time.monotonic() + 10
    while True:
        again = gateway.stream("m", user(), feature="f")
        with contextlib.suppress(FlagStoreUnavailableError):
            async for _ in again:
                pass
            if "feature_stale" not in again.call.options:
                break
        assert time.monotonic() < deadline, "the flags stayed stale after the database came back"
        await asyncio.sleep(0.05)


def test_open_flags_picks_the_provider_when_configured() -> None:
    """flags.provider names an OpenFeature provider: decisions come from it, not the database."""
    from keel.config import load_config
    from keel.flags.openfeature_source import OpenFeatureFlags

    settings = {
        "provider": {"name": "mem", "import": "tests.flags.of_provider:make", "options": {"model": "m"}}
    }
    assert isinstance(open_flags(load_config({"flags": settings})), OpenFeatureFlags)
    assert isinstance(open_flags(load_config({})), FlagRegistry)
