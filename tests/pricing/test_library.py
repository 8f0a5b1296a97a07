"""Keel's per-class arithmetic agrees with genai-prices everywhere, on the pinned data, offline."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from datetime import UTC, datetime

import genai_prices
from genai_prices.data import providers
from genai_prices.data_snapshot import DataSnapshot, set_custom_snapshot

from keel.pricing import PricingError, cost
from keel.types import Usage

AT = datetime(2026, 11, 1, tzinfo=UTC)
USAGES = [
    Usage(
        input_tokens=3000,
        output_tokens=500,
        cached_input_tokens=1000,
        cache_write_tokens=200,
        reasoning_tokens=300,
    ),
    # past the 200k tiers, with every class present
    Usage(
        input_tokens=300_000,
        output_tokens=5000,
        cached_input_tokens=100_000,
        cache_write_tokens=20_000,
        reasoning_tokens=3000,
    ),
]


def _library_total(usage: Usage, provider: str, model: str) -> object:
    library_usage = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return genai_prices.calc_price(
                library_usage, model, provider_id=provider, genai_request_timestamp=AT
            ).total_price
    except (LookupError, ValueError):
        return "unpriced"


def test_every_library_model_costs_what_genai_prices_says() -> None:
    """For every model of every provider in the data, Keel's class-by-class total equals the library's."""
    disagreements, checked = [], 0
    for provider in providers:
        for model in provider.models:
            for usage in USAGES:
                expected = _library_total(usage, provider.id, model.id)
                try:
                    actual: object = cost(usage, provider=provider.id, model=model.id, at=AT).total
                except PricingError:
                    actual = "unpriced"
                checked += 1
                if actual != expected:
                    disagreements.append(f"{provider.id}/{model.id}: keel {actual}, genai-prices {expected}")
    assert not disagreements, disagreements[:20]
    assert checked > 2000


def test_process_wide_price_updates_are_ignored() -> None:
    """A snapshot another library fetched into genai-prices does not change Keel's (pinned) prices."""
    usage = Usage(input_tokens=1000, output_tokens=100)
    before = cost(usage, provider="openai", model="gpt-4o", at=AT).total
    set_custom_snapshot(DataSnapshot(providers=[], from_auto_update=True))
    try:
        assert cost(usage, provider="openai", model="gpt-4o", at=AT).total == before
    finally:
        set_custom_snapshot(None)


def test_pricing_never_touches_the_network() -> None:
    """In a fresh interpreter with every socket refused, pricing works and no price updater runs."""
    script = textwrap.dedent(
        """
        import socket, threading

        def refuse(*args, **kwargs):
            raise OSError("network use during pricing")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.getaddrinfo = refuse
        socket.create_connection = refuse

        from keel.pricing import Pricer, cost, worst_case
        from keel.types import Usage

        assert cost(Usage(input_tokens=10, output_tokens=10), provider="openai", model="gpt-4o").total > 0
        assert worst_case(10, 10, provider="anthropic", model="claude-sonnet-4-5") > 0
        Pricer().check([("google", "gemini-2.5-flash")])
        names = [thread.name for thread in threading.enumerate()]
        assert names == ["MainThread"], names
        print("offline ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "offline ok"


def test_keel_never_starts_the_price_updater() -> None:
    """Keel never calls genai-prices' UpdatePrices, the only part of it that fetches anything."""
    import genai_prices.update_prices as update_prices

    for provider, model in [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5"),
        ("google", "gemini-2.5-flash"),
    ]:
        cost(Usage(input_tokens=1, output_tokens=1), provider=provider, model=model)
    assert update_prices._shared_updater.thread is None
    assert update_prices._shared_updater.ref_count == 0
