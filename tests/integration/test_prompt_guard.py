"""Automatic rollback on a real mock and one SQLite file shared by two gateways (two replicas): the
label moved to a version whose route fails comes back after ``min_calls``, decided once (one move
recorded, one webhook alert, the metric counted once), and no call after the rollback reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from keel import Gateway
from keel.errors import ServerError
from keel.mock import MockServer
from keel.prompts import PromptVersion, open_prompt_store
from keel.prompts.catalog import Catalog
from keel.telemetry.metrics import prompt_rollbacks

from .conftest import GatewayFactory


async def test_a_label_whose_new_version_fails_is_rolled_back_once_across_two_replicas(
    gateway_for: GatewayFactory,
    mock_server: MockServer,
    tmp_path: Path,
    uid: Any,
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    """production 1 → 2, whose route answers 500: after 10 of v2's calls both replicas judge the
    rule, one moves the label back to v1 (reason names the error rate), one alert is posted, and
    every later call is served by v1 on both."""
    url, received = webhook
    good, bad = uid("ok"), uid("error-500:times=100000")
    settings = {
        "prompts": {
            "refresh_interval": 0.05,
            "guard_interval": 0.05,
            "guards": [{"prompt": "greet", "label": "production", "min_calls": 10, "max_error_rate": 0.05}],
        },
        "retry": {"max_attempts": 1, "per_call_retries": 0},
        "breaker": {"failure_threshold": 100000},
        "ledger": {"durability": "strict"},
        "alerts": {"webhook_url": url},
    }
    one = gateway_for({}, **settings)
    two = Gateway.from_config(one.config)
    store = open_prompt_store(one.config.database)
    for number, model in ((1, good), (2, bad)):
        await store.add_version(
            PromptVersion(name="greet", version=number, model=f"mock/{model}", user_template="hi {who}"),
            by="t",
        )
    await store.move_label("greet", "production", 1, expected=None, by="t")
    before = prompt_rollbacks.labels(prompt="greet", label="production")._value.get()
    assert (await one.prompt("greet").chat(who="a")).prompt == "greet@1"
    assert (await two.prompt("greet").chat(who="a")).prompt == "greet@1"

    await (await Catalog.read({}, store)).move(store, "greet", "production", 2, by="ana")
    deadline = time.monotonic() + 10
    for gateway in (one, two):  # both replicas see the move (without calling the bad route)
        while (await gateway.prompts.select("greet")).version.version != 2:
            assert time.monotonic() < deadline, "the move was not seen"
            await asyncio.sleep(0.02)
    for gateway in (one, two) * 5:
        with contextlib.suppress(ServerError):
            await gateway.prompt("greet").chat(who="a")
    deadline = time.monotonic() + 10  # judged every 0.05 s: a bound, not a rate
    while not (history := await store.history("greet", "production"))[0].reason.startswith("guard"):
        assert time.monotonic() < deadline, "the guard never rolled the label back"
        await asyncio.sleep(0.02)

    guard = [move for move in history if move.moved_by == "guard"]
    assert len(guard) == 1 and (guard[0].from_version, guard[0].to_version) == (2, 1)
    assert guard[0].reason.startswith("guard: error rate 100.0% > 5.0%")
    deadline = time.monotonic() + 10
    for gateway in (one, two):  # the other replica's poll
        while (await gateway.prompts.select("greet")).version.version != 1:
            assert time.monotonic() < deadline, "the rollback was not seen"
            await asyncio.sleep(0.02)
    while not received:  # the webhook's post
        assert time.monotonic() < deadline, "no alert was posted"
        await asyncio.sleep(0.02)
    bad_calls = len(mock_server.attempts(model=bad))
    for gateway in (one, two) * 3:
        assert (await gateway.prompt("greet").chat(who="a")).prompt == "greet@1"
    assert len(mock_server.attempts(model=bad)) == bad_calls == 10
    assert [event["alert"] for event in received] == ["prompt_rollback"]
    assert received[0]["from"] == 2 and received[0]["to"] == 1 and received[0]["versions"] == [2]
    assert prompt_rollbacks.labels(prompt="greet", label="production")._value.get() == before + 1
    await asyncio.sleep(0.3)  # judged again meanwhile: a rolled-back label is not judged
    assert len([m for m in await store.history("greet", "production") if m.moved_by == "guard"]) == 1
    await two.aclose()
    await store.close()
