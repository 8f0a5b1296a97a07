"""Golden costs per provider response shape, and the rules a ``Pricer`` layers over the library.

Every literal below was computed by hand from the provider's published price per million tokens
(quoted beside it) and agrees with genai-prices ``GENAI_PRICES``; upgrading that package means
re-checking these figures, which is why the version is pinned by the first test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import genai_prices
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.config import load_config
from keel.errors import ConfigError
from keel.pricing import (
    Cost,
    Pricer,
    PricingError,
    cost,
    price_provider,
    usage_from_anthropic,
    usage_from_gemini,
    worst_case,
)
from keel.providers.profiles import PROFILES
from keel.types import Usage

GENAI_PRICES = "0.2.3"
AT = datetime(2026, 11, 1, tzinfo=UTC)


def _amounts(result: Cost) -> tuple[Decimal, ...]:
    """(input, cached input, cache write, output, reasoning, total) of a cost."""
    return (
        result.input,
        result.cached_input,
        result.cache_write,
        result.output,
        result.reasoning,
        result.total,
    )


def _pricer(**pricing: Any) -> Pricer:
    return Pricer.from_config(
        load_config(
            {
                "providers": {
                    "openai": {"profile": "openai", "api_key": "sk-test"},
                    "gemini": {"profile": "gemini", "api_key": "test"},
                    "vllm": {"profile": "vllm", "base_url": "http://127.0.0.1:8000/v1"},
                    "proxy": {"profile": "generic", "base_url": "http://127.0.0.1:4001/v1"},
                },
                "models": {"chat": [["openai/gpt-4o", "vllm/qwen2.5-7b"], ["local"]]},
                "pricing": pricing,
            }
        )
    )


def test_goldens_depend_on_pinned_genai_prices() -> None:
    """The figures in this file are genai-prices 0.2.3's data; a new version must re-check them."""
    assert genai_prices.__version__ == GENAI_PRICES


# --- OpenAI Chat Completions: prompt_tokens includes cached_tokens; completion_tokens includes reasoning.


def test_openai_gpt_4o_cached_prompt() -> None:
    """gpt-4o ($2.50 in, $1.25 cached, $10 out per 1M): 86 fresh + 1920 cached in, 300 out."""
    usage = Usage.from_openai(
        {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 1920},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
    )
    assert usage is not None
    result = cost(usage, provider="openai", model="gpt-4o-2024-08-06", at=AT)
    # 86 * 2.50 = 215; 1920 * 1.25 = 2400; 300 * 10 = 3000 (millionths of a dollar)
    assert _amounts(result) == (
        Decimal("0.000215"),
        Decimal("0.0024"),
        Decimal("0"),
        Decimal("0.003"),
        Decimal("0"),
        Decimal("0.005615"),
    )
    assert (result.source.kind, result.source.provider, result.source.model) == (
        "genai-prices",
        "openai",
        "gpt-4o",
    )
    assert result.source.version == f"genai-prices {GENAI_PRICES}"


def test_openai_gpt_4o_mini_cached_prompt() -> None:
    """gpt-4o-mini ($0.15 in, $0.075 cached, $0.60 out per 1M): 176 fresh + 1024 cached in, 100 out."""
    usage = Usage.from_openai(
        {"prompt_tokens": 1200, "completion_tokens": 100, "prompt_tokens_details": {"cached_tokens": 1024}}
    )
    assert usage is not None
    result = cost(usage, provider="openai", model="gpt-4o-mini", at=AT)
    # 176 * 0.15 = 26.4; 1024 * 0.075 = 76.8; 100 * 0.60 = 60
    assert _amounts(result) == (
        Decimal("0.0000264"),
        Decimal("0.0000768"),
        Decimal("0"),
        Decimal("0.00006"),
        Decimal("0"),
        Decimal("0.0001632"),
    )


def test_openai_o3_mini_reasoning_tokens() -> None:
    """o3-mini ($1.10 in, $0.55 cached, $4.40 out per 1M): reasoning is billed as output, shown apart."""
    usage = Usage.from_openai(
        {
            "prompt_tokens": 3000,
            "completion_tokens": 2500,
            "prompt_tokens_details": {"cached_tokens": 2048},
            "completion_tokens_details": {"reasoning_tokens": 2048},
        }
    )
    assert usage is not None
    result = cost(usage, provider="openai", model="o3-mini", at=AT)
    # 952 * 1.10 = 1047.2; 2048 * 0.55 = 1126.4; 452 * 4.40 = 1988.8; 2048 * 4.40 = 9011.2
    assert _amounts(result) == (
        Decimal("0.0010472"),
        Decimal("0.0011264"),
        Decimal("0"),
        Decimal("0.0019888"),
        Decimal("0.0090112"),
        Decimal("0.0131736"),
    )


def test_openai_price_is_dated() -> None:
    """o3 cost $10/$40 per 1M until 2025-06-10 and $2/$8 from then on; the cost names the start date."""
    usage = Usage(input_tokens=1000, output_tokens=100)
    before = cost(usage, provider="openai", model="o3", at=datetime(2025, 6, 1, tzinfo=UTC))
    after = cost(usage, provider="openai", model="o3", at=AT)
    assert (before.total, before.source.effective_from) == (Decimal("0.014"), None)  # 0.01 + 0.004
    assert (after.total, after.source.effective_from) == (
        Decimal("0.0028"),
        date(2025, 6, 10),
    )  # 0.002 + 0.0008


def test_openai_priority_tier_priced_apart() -> None:
    """gpt-4o served at the priority tier costs $4.25 in and $17 out per 1M instead of $2.50 / $10."""
    usage = Usage(input_tokens=1000, output_tokens=100)
    pricer = Pricer()
    standard = pricer.cost(usage, provider="openai", model="gpt-4o", at=AT)
    priority = pricer.cost(usage, provider="openai", model="gpt-4o", at=AT, service_tier="priority")
    assert standard.total == Decimal("0.0035")  # 0.0025 + 0.001
    assert priority.total == Decimal("0.00595")  # 0.00425 + 0.0017


# --- Anthropic Messages: input_tokens EXCLUDES cache reads and writes; Keel's Usage includes them.

ANTHROPIC_USAGE = {
    "input_tokens": 50,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 2000,
    "output_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 0},
}


def test_anthropic_usage_is_normalised() -> None:
    """Anthropic's uncached, cache-read and cache-write counts add up to Keel's input_tokens."""
    usage = usage_from_anthropic(ANTHROPIC_USAGE)
    assert usage == Usage(
        input_tokens=3050, output_tokens=300, cached_input_tokens=2000, cache_write_tokens=1000
    )
    extracted = genai_prices.extract_usage(
        {"model": "claude-sonnet-4-5", "usage": ANTHROPIC_USAGE}, provider_id="anthropic"
    )
    assert (extracted.usage.input_tokens, extracted.usage.cache_read_tokens) == (3050, 2000)


def test_anthropic_sonnet_cache_read_and_write() -> None:
    """Claude Sonnet 4.5 ($3 in, $0.30 cache read, $3.75 cache write, $15 out per 1M)."""
    usage = usage_from_anthropic(ANTHROPIC_USAGE)
    assert usage is not None
    result = cost(usage, provider="anthropic", model="claude-sonnet-4-5", at=AT)
    # 50 * 3 = 150; 2000 * 0.30 = 600; 1000 * 3.75 = 3750; 300 * 15 = 4500
    assert _amounts(result) == (
        Decimal("0.00015"),
        Decimal("0.0006"),
        Decimal("0.00375"),
        Decimal("0.0045"),
        Decimal("0"),
        Decimal("0.009"),
    )


def test_anthropic_haiku_one_hour_cache_write() -> None:
    """Claude Haiku 4.5 bills a one-hour cache write at $2 per 1M and a five-minute one at $1.25."""
    usage = usage_from_anthropic(
        {
            "input_tokens": 1000,
            "cache_creation_input_tokens": 1500,
            "cache_read_input_tokens": 500,
            "output_tokens": 10,
            "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1000},
        }
    )
    assert usage is not None
    result = cost(usage, provider="anthropic", model="claude-haiku-4-5-20251001", at=AT)
    # 1000 * 1 = 1000; 500 * 0.10 = 50; 500 * 1.25 + 1000 * 2 = 2625; 10 * 5 = 50
    assert _amounts(result) == (
        Decimal("0.001"),
        Decimal("0.00005"),
        Decimal("0.002625"),
        Decimal("0.00005"),
        Decimal("0"),
        Decimal("0.003725"),
    )


def test_anthropic_long_context_tier() -> None:
    """Past 200k input tokens Sonnet 4.5 bills every token at $6 in and $22.50 out per 1M."""
    result = cost(
        Usage(input_tokens=250_000, output_tokens=1000),
        provider="anthropic",
        model="claude-sonnet-4-5",
        at=AT,
    )
    assert (result.input, result.output, result.total) == (
        Decimal("1.5"),
        Decimal("0.0225"),
        Decimal("1.5225"),
    )


# --- Gemini: native usageMetadata reports thinking apart from the answer; its OpenAI endpoint does not.

GEMINI_USAGE = {
    "promptTokenCount": 1500,
    "cachedContentTokenCount": 1000,
    "candidatesTokenCount": 200,
    "thoughtsTokenCount": 800,
    "totalTokenCount": 2500,
}
GEMINI_FLASH = (  # gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out (thinking too) per 1M
    Decimal("0.00015"),  # 500 * 0.30
    Decimal("0.00003"),  # 1000 * 0.03
    Decimal("0"),
    Decimal("0.0005"),  # 200 * 2.50
    Decimal("0.002"),  # 800 * 2.50
    Decimal("0.00268"),
)


def test_gemini_native_usage_with_thinking() -> None:
    """Gemini's thoughts are output tokens: Keel adds them to the candidates, as genai-prices does."""
    usage = usage_from_gemini(GEMINI_USAGE)
    assert usage == Usage(
        input_tokens=1500, output_tokens=1000, cached_input_tokens=1000, reasoning_tokens=800
    )
    assert _amounts(cost(usage, provider="google", model="gemini-2.5-flash", at=AT)) == GEMINI_FLASH


def test_gemini_through_its_openai_profile() -> None:
    """A route on the ``gemini`` profile speaks OpenAI's shape and is priced as Google's model."""
    usage = Usage.from_openai(
        {
            "prompt_tokens": 1500,
            "completion_tokens": 1000,
            "total_tokens": 2500,
            "prompt_tokens_details": {"cached_tokens": 1000},
            "completion_tokens_details": {"reasoning_tokens": 800},
        }
    )
    assert usage is not None
    result = _pricer().cost(usage, provider="gemini", model="gemini-2.5-flash", at=AT)
    assert _amounts(result) == GEMINI_FLASH
    assert result.source.provider == "google"


# --- Config: overrides, custom models, the local model, unknown models.


def test_config_override_replaces_library_price() -> None:
    """pricing.models['openai/gpt-4o'] replaces genai-prices' price for that route."""
    pricer = _pricer(models={"openai/gpt-4o": {"input": 2, "cached_input": 0.5, "output": 8}})
    usage = Usage(input_tokens=2000, cached_input_tokens=1000, output_tokens=500)
    result = pricer.cost(usage, provider="openai", model="gpt-4o", at=AT)
    # 1000 * 2 = 2000; 1000 * 0.5 = 500; 500 * 8 = 4000
    assert _amounts(result) == (
        Decimal("0.002"),
        Decimal("0.0005"),
        Decimal("0"),
        Decimal("0.004"),
        Decimal("0"),
        Decimal("0.0065"),
    )
    assert (result.source.kind, result.source.model, result.source.version) == (
        "config",
        "openai/gpt-4o",
        "keel.yaml",
    )


def test_config_override_never_undercharges_unset_classes() -> None:
    """An override without cache or reasoning prices bills those tokens at the input / output price."""
    pricer = _pricer(models={"openai/gpt-4o": {"input": "1", "output": "4"}})
    usage = Usage(
        input_tokens=3000,
        cached_input_tokens=1000,
        cache_write_tokens=1000,
        output_tokens=200,
        reasoning_tokens=100,
    )
    result = pricer.cost(usage, provider="openai", model="gpt-4o", at=AT)
    assert _amounts(result) == (
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("0.0004"),
        Decimal("0.0004"),
        Decimal("0.0038"),
    )


def test_self_hosted_route_priced_per_token() -> None:
    """A vLLM route has no library price; a config price per 1M tokens and per request applies."""
    pricer = _pricer(models={"vllm/qwen2.5-7b": {"input": 0.05, "output": 0.1, "per_request": 0.0001}})
    result = pricer.cost(Usage(input_tokens=10_000, output_tokens=1000), provider="vllm", model="qwen2.5-7b")
    # 10000 * 0.05 = 500; 1000 * 0.10 = 100; + 100 per request
    assert (result.input, result.output, result.request, result.total) == (
        Decimal("0.0005"),
        Decimal("0.0001"),
        Decimal("0.0001"),
        Decimal("0.0007"),
    )


def test_free_self_hosted_route() -> None:
    """``vllm/*: free`` prices every model on that provider at zero, and says the config did."""
    result = _pricer(models={"vllm/*": "free"}).cost(
        Usage(input_tokens=10_000, output_tokens=1000), provider="vllm", model="anything"
    )
    assert (result.total, result.source.kind, result.source.model) == (Decimal(0), "config", "vllm/*")


def test_local_model_is_free() -> None:
    """The bundled local model costs nothing, through config or through the module-level function."""
    usage = Usage(input_tokens=500, output_tokens=100)
    through_config = _pricer().cost(usage, provider="local", model="smollm2-135m-instruct")
    assert (through_config.total, through_config.source.kind) == (Decimal(0), "free")
    assert cost(usage, provider="local", model="smollm2-135m-instruct").total == Decimal(0)


def test_unknown_model_refused_by_default() -> None:
    """An unknown model raises a PricingError naming the route and the config that would price it."""
    with pytest.raises(
        PricingError, match=r"no price for openai/gpt-99 .*pricing\.models\['openai/gpt-99'\]"
    ):
        cost(Usage(input_tokens=1), provider="openai", model="gpt-99")
    assert issubclass(PricingError, ConfigError)


def test_self_hosted_route_without_price_refused() -> None:
    """A vLLM route with no price in config is refused, never priced at zero."""
    with pytest.raises(PricingError, match=r"vllm/qwen2.5-7b .*self-hosted"):
        _pricer().cost(Usage(input_tokens=1), provider="vllm", model="qwen2.5-7b")


def test_unknown_model_default_prices() -> None:
    """``unknown: {input, output}`` prices any unknown model, marked as the default."""
    result = _pricer(unknown={"input": 5, "output": 20}).cost(
        Usage(input_tokens=1000, output_tokens=100), provider="vllm", model="mystery"
    )
    assert (result.total, result.source.kind) == (Decimal("0.007"), "default")  # 0.005 + 0.002


def test_provider_priced_as_a_library_provider() -> None:
    """``pricing.providers`` prices an OpenAI-compatible proxy's models as the named provider's."""
    result = _pricer(providers={"proxy": "openai"}).cost(
        Usage(input_tokens=1000, output_tokens=100), provider="proxy", model="gpt-4o", at=AT
    )
    assert (result.total, result.source.provider) == (Decimal("0.0035"), "openai")


def test_unnormalised_usage_refused() -> None:
    """Cache tokens beyond input_tokens mean a raw Anthropic count slipped through: refuse, do not guess."""
    with pytest.raises(PricingError, match="not normalised"):
        cost(
            Usage(input_tokens=50, cached_input_tokens=2000), provider="anthropic", model="claude-sonnet-4-5"
        )


def test_cost_as_dict_keeps_decimals_exact() -> None:
    """The JSON form carries decimal strings and the price's origin."""
    result = cost(Usage(input_tokens=176, output_tokens=100), provider="openai", model="gpt-4o-mini", at=AT)
    data = result.as_dict()
    assert (data["input"], data["cache_write"], data["total"]) == ("0.0000264", "0", "0.0000864")
    assert data["source"] == {
        "kind": "genai-prices",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "version": f"genai-prices {GENAI_PRICES}",
        "effective_from": None,
    }


# --- Worst case: the reservation budgets make before an attempt.


def test_worst_case_is_bound_times_prices() -> None:
    """gpt-4o: 10,000 input tokens at $2.50 and 1,000 output at $10 per 1M reserve $0.035."""
    assert worst_case(10_000, 1000, provider="openai", model="gpt-4o", at=AT) == Decimal("0.035")


def test_worst_case_covers_cache_writes_and_tiers() -> None:
    """Sonnet 4.5 reserves input at the one-hour cache-write price ($6), and at the long-context tier."""
    assert worst_case(10_000, 1000, provider="anthropic", model="claude-sonnet-4-5", at=AT) == Decimal(
        "0.075"
    )
    no_writes = worst_case(
        10_000, 1000, provider="anthropic", model="claude-sonnet-4-5", at=AT, cache_writes=False
    )
    assert no_writes == Decimal("0.045")  # 10000 * 3 + 1000 * 15
    long = worst_case(
        300_000, 1000, provider="anthropic", model="claude-sonnet-4-5", at=AT, cache_writes=False
    )
    assert long == Decimal("1.8225")  # 300000 * 6 + 1000 * 22.50


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o"),
        ("openai", "o3-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("google", "gemini-2.5-pro"),
    ],
)
@given(data=st.data())
def test_worst_case_bounds_every_cost(provider: str, model: str, data: st.DataObject) -> None:
    """Whatever mix of classes an attempt uses within its bounds, it never costs more than reserved."""
    bound = data.draw(st.integers(0, 400_000))
    max_output = data.draw(st.integers(0, 64_000))
    input_tokens = data.draw(st.integers(0, bound))
    cached = data.draw(st.integers(0, input_tokens))
    written = data.draw(st.integers(0, input_tokens - cached))
    output = data.draw(st.integers(0, max_output))
    usage = Usage(
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=output,
        reasoning_tokens=data.draw(st.integers(0, output)),
    )
    if written:
        usage.cache_write_1h_tokens = data.draw(st.integers(0, written))  # type: ignore[attr-defined]
    spent = cost(usage, provider=provider, model=model, at=AT).total
    assert spent <= worst_case(bound, max_output, provider=provider, model=model, at=AT)


# --- Start-up checks and config.


def test_check_names_every_unpriced_route() -> None:
    """``check`` fails at start listing the deployments nobody can price; local and library ones pass."""
    with pytest.raises(PricingError, match=r"no price for vllm/qwen2.5-7b: add pricing\.models"):
        _pricer().check()
    _pricer(models={"vllm/qwen2.5-7b": "free"}).check()


def test_check_catches_misnamed_providers() -> None:
    """A pricing key for an unconfigured provider, or an unknown library id, is an error at start."""
    with pytest.raises(PricingError, match=r"pricing\.models\['vlm/x'\]: no provider 'vlm'"):
        _pricer(models={"vlm/x": "free", "vllm/*": "free"}).check()
    with pytest.raises(
        PricingError, match=r"pricing\.providers\.proxy: genai-prices has no provider 'opnai'"
    ):
        _pricer(providers={"proxy": "opnai"}, models={"vllm/*": "free"}).check()


def test_pricing_config_reads_yaml_numbers_exactly(tmp_path: Any) -> None:
    """Prices written as YAML floats become exact decimals; ``free`` is all zero."""
    path = tmp_path / "keel.yaml"
    path.write_text(
        "pricing:\n"
        "  unknown: {input: 0.15, output: 0.6}\n"
        "  models:\n"
        "    local/*: free\n"
        "    openai/gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}\n"
    )
    pricing = load_config(path).pricing
    assert pricing.models["openai/gpt-4o"].cached_input == Decimal("1.25")
    assert pricing.models["local/*"].output == Decimal(0)
    assert not isinstance(pricing.unknown, str)
    assert (pricing.unknown.input, pricing.unknown.output) == (Decimal("0.15"), Decimal("0.6"))


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({"models": {"gpt-4o": {"input": 1, "output": 1}}}, "name a route as provider/model"),
        ({"models": {"openai/gpt-4o": {"input": -1, "output": 1}}}, "greater than or equal to 0"),
        ({"models": {"openai/gpt-4o": {"input": 1}}}, "output: Field required"),
        ({"models": {"openai/gpt-4o": {"input": 1, "output": 1, "cache_read": 1}}}, "unknown field"),
        ({"unknown": "zero"}, "use refuse, or default prices"),
        ({"unknown": "free"}, "use refuse, or default prices"),
        ({"unknown": {"input": 1}}, r"unknown: .*\(output: Field required\)"),
    ],
)
def test_pricing_config_errors_name_the_field(pricing: dict[str, Any], message: str) -> None:
    """A wrong pricing section fails at load with the field's path in the message."""
    with pytest.raises(ConfigError, match=message) as error:
        load_config({"pricing": pricing})
    assert "pricing." in str(error.value)


def test_every_profile_maps_to_a_price_provider() -> None:
    """Each OpenAI-compatible profile has a deliberate genai-prices provider (or none: self-hosted)."""
    from keel.config import ProviderConfig
    from keel.pricing import _PROFILE_PROVIDERS

    assert set(_PROFILE_PROVIDERS) == set(PROFILES)
    assert price_provider(ProviderConfig(profile="gemini")) == "google"
    assert price_provider(ProviderConfig(profile="vllm")) is None


def test_anthropic_kind_priced_as_anthropic() -> None:
    """A provider of kind ``anthropic``, whatever its name in keel.yaml, takes Anthropic's prices."""
    from keel.config import ProviderConfig

    settings = ProviderConfig.model_validate({"kind": "anthropic", "api_key": "test"})
    assert price_provider(settings) == "anthropic"
    usage = usage_from_anthropic(ANTHROPIC_USAGE)
    assert usage is not None
    result = Pricer(providers={"claude": settings}).cost(
        usage, provider="claude", model="claude-sonnet-4-5", at=AT
    )
    assert result.total == Decimal("0.009")
