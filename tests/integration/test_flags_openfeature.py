"""OpenFeature both ways, no network: the SDK with Keel's provider evaluates the variants Keel applies
to its calls, and Keel configured with an in-process OpenFeature provider applies that provider's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from keel.errors import FeatureDisabledError
from keel.flags import edits
from keel.flags.openfeature_provider import KeelProvider
from keel.flags.registry import FlagRegistry
from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user


async def test_the_sdk_with_keel_s_provider_evaluates_the_variants_keel_applies(
    gateway_for: GatewayFactory, uid: Callable[[str], str]
) -> None:
    """200 users on a 30 % rollout with a targeted team: the variant the OpenFeature client gets
    (string), whether it is on (boolean) and what it changes (object) match the variant the ledger
    records for the same user's call."""
    gateway = gateway_for(
        {"small": [f"mock/{uid('ok:tokens=1')}"], "large": [f"mock/{uid('ok:tokens=2')}"]},
        ledger={"durability": "strict"},
    )
    flags = gateway.flags
    assert isinstance(flags, FlagRegistry)
    spec = {
        "variants": {"old": {"model": "small"}, "new": {"model": "large"}},
        "rules": [{"variant": "new", "teams": ["beta"]}],
        "default": "old",
    }
    await flags.change("summarizer", edits.set_spec("summarizer", spec), by="t", action="set")
    await flags.change("summarizer", edits.rollout("summarizer", {"new": 30}), by="t", action="rollout")
    api.set_provider(KeelProvider(gateway), domain="keel-in-process")
    client = api.get_client("keel-in-process")

    expected: dict[str, str] = {}
    for n in range(200):
        context = EvaluationContext(f"user-{n}", {"team": "beta"} if n % 10 == 0 else {})
        details = await client.get_string_details_async("summarizer", "none", context)
        expected[f"user-{n}"] = details.value
        assert await client.get_boolean_value_async("summarizer", False, context) is True
        settings = client.get_object_value("summarizer", {}, context)  # sync: the gateway's memory
        assert settings["model"] == ("large" if details.value == "new" else "small")
        keel = {"team": "beta"} if n % 10 == 0 else {}
        await gateway.chat("large", user(), feature="summarizer", user=f"user-{n}", keel=keel)
    ledger = SQLiteLedger(gateway.config.database.removeprefix("sqlite:///"))
    try:
        applied = {row["user"]: row["feature_variant"] for row in await ledger.rows(1000)}
    finally:
        await ledger.close()
    assert applied == expected
    assert 40 < list(expected.values()).count("new") < 120  # 10 % targeted + 30 % of the rest
    missing = await client.get_string_details_async("nope", "dflt", EvaluationContext("u"))
    assert (missing.value, missing.error_code) == ("dflt", "FLAG_NOT_FOUND")


async def test_keel_applies_an_in_process_openfeature_provider_s_values(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Callable[[str], str]
) -> None:
    """flags.provider by import string (the SDK's InMemoryProvider): its variant's model reaches
    the upstream, the ledger names its variant, and a flag it answers false for is refused."""
    chosen = uid("ok:tokens=3")
    gateway = gateway_for(
        {"small": [f"mock/{uid('ok')}"], "picked": [f"mock/{chosen}"]},
        flags={"provider": {"name": "in-memory", "import": "tests.flags.of_provider:make",
                            "options": {"model": "picked"}}},
    )  # fmt: skip

    await gateway.chat("small", user(), feature="summarizer", user="u-1")

    [attempt] = mock_server.attempts(model=chosen)
    assert attempt["body"]["messages"][-1]["content"] == "Say hello"
    with pytest.raises(FeatureDisabledError):
        await gateway.chat("small", user(), feature="paused")
