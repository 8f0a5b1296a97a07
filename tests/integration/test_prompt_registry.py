"""The prompt registry of a gateway: YAML and database versions side by side (a clash refused,
naming both), prompt files read again on reload, label moves made elsewhere served within the
refresh interval, a removed label never served, and the stale rule while PostgreSQL is away."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keel import Gateway
from keel.errors import ConfigError, PromptNotFoundError, PromptStoreUnavailableError
from keel.prompts import PromptVersion, open_prompt_store

from ._relay import CuttableRelay
from .conftest import GatewayFactory


def write(root: Path, name: str, number: int, text: str) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / f"v{number}.yaml").write_text(text)


def db_version(number: int, model: str) -> PromptVersion:
    return PromptVersion(name="greet", version=number, model=model, user_template="db {who}")


async def test_a_version_in_both_sources_is_refused_naming_both(
    gateway_for: GatewayFactory, tmp_path: Path, uid: Callable[[str], str]
) -> None:
    """A file and the database both holding greet v1: the gateway refuses to serve it, naming the
    file and the database; a reload that adds such a file is refused and changes nothing."""
    model = f"mock/{uid('ok')}"
    root = tmp_path / "prompts"
    write(root, "greet", 2, f"model: {model}\nuser_template: 'yaml {{who}}'\n")
    gateway = gateway_for({}, prompts={"dir": str(root), "default_label": "latest"})
    store = open_prompt_store(gateway.config.database)
    await store.add_version(db_version(1, model), by="test")
    assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@2"

    write(root, "greet", 1, f"model: {model}\nuser_template: 'clash {{who}}'\n")
    with pytest.raises(
        ConfigError, match=r"version 1 is defined twice: in .*greet/v1.yaml and in the database"
    ):
        gateway.reconfigure(gateway.config)
    assert (await gateway.prompt("greet@1").chat(who="a")).prompt == "greet@1"  # still the database's

    fresh = Gateway.from_config(gateway.config)
    with pytest.raises(ConfigError, match="defined twice"):
        await fresh.prompt("greet").chat(who="a")
    await fresh.aclose()
    await store.close()


async def test_prompt_files_are_read_again_on_reload(
    gateway_for: GatewayFactory, tmp_path: Path, uid: Callable[[str], str]
) -> None:
    """A new file is served after ``reconfigure`` though keel.yaml is unchanged; a broken file is
    refused with its name and the versions in force stay."""
    model = f"mock/{uid('ok')}"
    root = tmp_path / "prompts"
    write(root, "greet", 1, f"model: {model}\nuser_template: 'one {{who}}'\n")
    gateway = gateway_for({}, prompts={"dir": str(root), "default_label": "latest"})
    assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@1"

    write(root, "greet", 2, f"model: {model}\nuser_template: 'two {{who}}'\n")
    assert gateway.reconfigure(gateway.config) == ["prompts (files)"]
    assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@2"

    write(root, "greet", 3, f"model: {model}\nuser_template: 'three {{who.name}}'\n")
    with pytest.raises(ConfigError, match=r"greet/v3.yaml: user_template: '\{who.name\}'"):
        gateway.reconfigure(gateway.config)
    assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@2"


async def _served_within(gateway: Gateway, expected: str, limit: float) -> float:
    started = time.monotonic()
    while True:
        try:
            served = (await gateway.prompt("greet").chat(who="a")).prompt
        except PromptNotFoundError:
            served = "none"
        if served == expected:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"still {served} after {limit} s"
        await asyncio.sleep(0.02)


async def test_labels_moved_elsewhere_are_served_within_the_refresh_interval_and_removed_ones_never(
    gateway_for: GatewayFactory, uid: Callable[[str], str]
) -> None:
    """Another process's store moves production 1 → 2, then removes it: the gateway serves v2, then
    refuses the label (404), each within a second."""
    model = f"mock/{uid('ok')}"
    gateway = gateway_for({}, prompts={"refresh_interval": 0.2})
    other = open_prompt_store(gateway.config.database)
    for number in (1, 2):
        await other.add_version(db_version(number, model), by="test")
    await other.move_label("greet", "production", 1, expected=None, by="test")
    assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@1"

    await other.move_label("greet", "production", 2, expected=1, by="test")
    assert await _served_within(gateway, "greet@2", 1.0) < 1.0
    await other.move_label("greet", "production", None, expected=2, by="test")
    assert await _served_within(gateway, "none", 1.0) < 1.0
    await other.close()


async def test_while_postgresql_is_away_labels_are_served_stale_then_refused(
    gateway_for: GatewayFactory, relayed: tuple[CuttableRelay, str], uid: Callable[[str], str]
) -> None:
    """With the database cut, the last labels read are served marked stale until prompts.max_stale,
    then the call is a 503 prompt_store_unavailable; when the database is back, fresh again."""
    relay, database = relayed
    model = f"mock/{uid('ok')}"
    store = open_prompt_store(database)
    await store.add_version(db_version(1, model), by="test")
    await store.move_label("greet", "production", 1, expected=None, by="test")
    await store.close()
    gateway = gateway_for(
        {}, database=database, ledger={"enabled": False}, prompts={"refresh_interval": 0.1, "max_stale": 1.0}
    )
    first = await gateway.prompt("greet").chat(who="a")
    assert first.prompt == "greet@1"

    await relay.cut()
    await asyncio.sleep(0.4)
    call = gateway.prompt("greet").stream(who="a")
    async for _ in call:
        pass
    assert call.call.options["prompt_stale"] >= 0.2
    await asyncio.sleep(1.0)
    with pytest.raises(PromptStoreUnavailableError) as refused:
        await gateway.prompt("greet").chat(who="a")
    assert refused.value.status == 503 and refused.value.code == "prompt_store_unavailable"

    await relay.start()
    deadline = time.monotonic() + 10  # fresh again once a poll gets through
    while True:
        again = gateway.prompt("greet").stream(who="a")
        with contextlib.suppress(PromptStoreUnavailableError):  # not yet read again
            async for _ in again:
                pass
            if "prompt_stale" not in again.call.options:
                break
        assert time.monotonic() < deadline, "the labels stayed stale after the database came back"
        await asyncio.sleep(0.05)


async def test_a_split_label_is_sticky_per_user_and_the_ledger_names_the_variant(
    gateway_for: GatewayFactory, uid: Callable[[str], str]
) -> None:
    """production split 50/50 between v1 and v2: each of 40 users gets one version every time, both
    versions serve someone, and each ledger row says which variant it was."""
    from keel.prompts.catalog import Catalog

    model = f"mock/{uid('ok')}"
    gateway = gateway_for({}, prompts={"refresh_interval": 0.1}, ledger={"durability": "strict"})
    store = open_prompt_store(gateway.config.database)
    for number in (1, 2):
        await store.add_version(db_version(number, model), by="test")
    catalog = await Catalog.read({}, store)
    await catalog.move(store, "greet", "production", {1: 50, 2: 50}, by="test")
    await store.close()

    seen: dict[str, set[str | None]] = {}
    for user in [f"u{i}" for i in range(40)] * 2:
        answer = await gateway.prompt("greet").chat(who="a", user=user)
        seen.setdefault(user, set()).add(answer.prompt)
    assert all(len(versions) == 1 for versions in seen.values())
    assert {next(iter(v)) for v in seen.values()} == {"greet@1", "greet@2"}
    assert gateway.ledger is not None
    rows = await gateway.ledger.store.rows(limit=80)  # type: ignore[attr-defined]
    assert {(row["prompt_version"], row["variant"]) for row in rows} == {(1, "v1"), (2, "v2")}
