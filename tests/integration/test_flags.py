"""Feature flags through the library on a real mock upstream and a real SQLite file: the variant's
model, prompt and parameters reach the upstream, the ledger records feature and variant, a killed
flag serves its fallback (or refuses), and a per-flag budget under 100 concurrent calls turns its
flag off once, never overspent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from keel import Gateway
from keel.errors import FeatureDisabledError, FlagNotFoundError
from keel.flags import edits
from keel.flags.registry import FlagRegistry
from keel.mock import MockServer
from keel.policies.budget import spent
from keel.prompts import PromptVersion, open_prompt_store
from keel.stores.sqlite_ledger import SQLiteLedger
from keel.telemetry.metrics import flag_budget_offs

from .._support.markers import without_canary
from .conftest import GatewayFactory, user


def registry(gateway: Gateway) -> FlagRegistry:
    flags = gateway.flags
    assert isinstance(flags, FlagRegistry)
    return flags


async def put(gateway: Gateway, name: str, spec: dict[str, Any], by: str = "test") -> None:
    await registry(gateway).change(name, edits.set_spec(name, spec), by=by, action="set")


async def rows(gateway: Gateway) -> list[dict[str, Any]]:
    ledger = SQLiteLedger(gateway.config.database.removeprefix("sqlite:///"))
    try:
        return await ledger.rows(1000)
    finally:
        await ledger.close()


async def test_the_variant_s_model_prompt_and_parameters_reach_the_upstream(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Callable[[str], str]
) -> None:
    """feature= names the flag; its default variant sends the prompt's messages before the caller's,
    to the variant's model with its parameters; the ledger records feature and variant."""
    small, large = uid("ok"), uid("ok:tokens=3")
    gateway = gateway_for(
        {"small": [f"mock/{small}"], "large": [f"mock/{large}"]}, ledger={"durability": "strict"}
    )
    store = open_prompt_store(gateway.config.database)
    await store.add_version(
        PromptVersion(name="brief", version=1, model="large", system="Be brief.", user_template="Now."),
        by="t",
    )
    await store.close()
    await put(
        gateway,
        "summarizer",
        {
            "variants": {
                "old": {"model": "small"},
                "new": {"prompt": "brief@1", "params": {"temperature": 0.1}},
            },
            "default": "new",
        },
    )

    await gateway.chat("small", user("Hello"), feature="summarizer", user="u-1")

    assert mock_server.attempts(model=small) == []
    [attempt] = mock_server.attempts(model=large)
    assert attempt["body"]["temperature"] == 0.1
    body, _ = without_canary(attempt["body"])
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert attempt["body"]["messages"][-1] == {"role": "user", "content": "Hello"}
    [row] = await rows(gateway)
    assert (row["feature"], row["feature_variant"], row["prompt"]) == ("summarizer", "new", "brief")


async def test_a_killed_flag_serves_its_fallback_and_without_one_refuses(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Callable[[str], str]
) -> None:
    """Killed: the fallback variant's model answers; with no fallback, FeatureDisabledError
    (feature_disabled, 403) and nothing is sent; an unknown feature is FlagNotFoundError."""
    small, large = uid("ok:tokens=1"), uid("ok:tokens=2")
    gateway = gateway_for({"small": [f"mock/{small}"], "large": [f"mock/{large}"]})
    variants = {"old": {"model": "small"}, "new": {"model": "large"}}
    await put(gateway, "summarizer", {"variants": variants, "default": "new", "fallback": "old"})
    await put(gateway, "bare", {"variants": {"on": {}}, "default": "on"})
    await registry(gateway).change("summarizer", edits.kill("summarizer"), by="t", action="kill")
    await registry(gateway).change("bare", edits.kill("bare"), by="t", action="kill")

    await gateway.chat("large", user(), feature="summarizer")
    assert len(mock_server.attempts(model=small)) == 1 and mock_server.attempts(model=large) == []
    with pytest.raises(FeatureDisabledError) as refused:
        await gateway.chat("large", user(), feature="bare")
    assert (refused.value.status, refused.value.code, refused.value.reason) == (
        403,
        "feature_disabled",
        "killed",
    )
    with pytest.raises(FlagNotFoundError):
        await gateway.chat("large", user(), feature="nope")
    assert mock_server.attempts(model=large) == []


async def test_a_call_without_a_feature_never_reads_the_flags(
    gateway_for: GatewayFactory, uid: Callable[[str], str]
) -> None:
    """No feature: the flag store is never opened (no poller, no snapshot)."""
    gateway = gateway_for({"m": [f"mock/{uid('ok')}"]})
    await gateway.chat("m", user())
    flags = registry(gateway)
    assert flags._store is None and flags._poller is None


async def test_a_per_flag_budget_under_100_concurrent_calls(
    gateway_for: GatewayFactory,
    mock_server: MockServer,
    uid: Callable[[str], str],
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    """100 concurrent calls against a flag whose budget covers a few: what is settled stays within
    the budget, the flag turns itself off (recorded once, one alert: log, metric, webhook), every
    call succeeds — the ones the budget could not cover on the fallback variant — and so do the
    calls after; keel flags list says why it is off."""
    url, received = webhook
    large, small = uid("ok:tokens=5,ttft_ms=50"), uid("ok")
    limit = Decimal("0.0003")
    gateway = gateway_for(
        {"small": [f"mock/{small}"], "large": [f"mock/{large}"]},
        budgets=[{"name": "summarizer-day", "scope": "feature", "match": "summarizer", "window": "day",
                  "limit_usd": str(limit), "alert_at": []}],
        alerts={"webhook_url": url},
        ledger={"durability": "strict"},
    )  # fmt: skip
    variants = {"old": {"model": "small"}, "new": {"model": "large"}}
    await put(gateway, "summarizer", {"variants": variants, "default": "new", "fallback": "old"})
    before = flag_budget_offs.labels(flag="summarizer", budget="summarizer-day")._value.get()

    await asyncio.gather(
        *(
            gateway.chat("large", user(), feature="summarizer", user=f"u{n}", max_tokens=16)
            for n in range(100)
        )
    )
    for n in range(5):
        await gateway.chat("large", user(), feature="summarizer", user=f"later{n}", max_tokens=16)

    settled = await spent(gateway._lasting.budget_counters, "feature", "summarizer", "day")
    recorded = await rows(gateway)
    new = [row for row in recorded if row["feature_variant"] == "new"]
    assert settled <= limit and sum((row["cost_usd"] for row in new), Decimal(0)) <= limit
    assert 0 < len(new) < 100 and all(row["status"] == "ok" for row in recorded) and len(recorded) == 105
    assert {row["feature_variant"] for row in recorded if row["user"].startswith("later")} == {"old"}
    flag = (await registry(gateway).refresh()).flags["summarizer"]
    assert flag.off_now() == "budget" and "summarizer-day" in flag.state()
    history = await registry(gateway).store.history("summarizer")
    assert [change.action for change in history].count("budget") == 1
    assert flag_budget_offs.labels(flag="summarizer", budget="summarizer-day")._value.get() == before + 1
    deadline = time.monotonic() + 10
    while not received:
        assert time.monotonic() < deadline, "no alert was posted"
        await asyncio.sleep(0.02)
    assert [event["alert"] for event in received] == ["flag_budget_exhausted"]


async def test_a_kill_is_seen_by_another_replica_within_a_second(
    gateway_for: GatewayFactory, uid: Callable[[str], str]
) -> None:
    """Two gateways on one SQLite file: a kill made by one is applied by the other within 1 s."""
    small, large = uid("ok:tokens=1"), uid("ok:tokens=2")
    one = gateway_for(
        {"small": [f"mock/{small}"], "large": [f"mock/{large}"]}, flags={"refresh_interval": 0.2}
    )
    two = Gateway.from_config(one.config)
    try:
        await put(
            one, "summarizer", {"variants": {"old": {}, "new": {}}, "default": "new", "fallback": "old"}
        )
        await two.chat("large", user(), feature="summarizer")  # loaded, polling
        killed_at = time.monotonic()
        await registry(one).change("summarizer", edits.kill("summarizer"), by="t", action="kill")
        while registry(two).flag("summarizer").enabled:  # type: ignore[union-attr]
            assert time.monotonic() - killed_at < 1.0, "the kill was not seen within 1 s"
            await asyncio.sleep(0.01)
    finally:
        await two.aclose()
