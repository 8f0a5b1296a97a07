"""A ``Pricer`` as the budget and attempt policies call it: per route, per request, per attempt."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keel._build import build_providers, build_route
from keel.config import load_config
from keel.errors import RequestError
from keel.pricing import Pricer, input_token_bound, usage_from_anthropic
from keel.route import Route
from keel.types import Attempt, ChatRequest, Usage

CONFIG = load_config(
    {
        "providers": {
            "openai": {"profile": "openai", "api_key": "sk-test"},
            "vllm": {"profile": "vllm", "base_url": "http://127.0.0.1:8000/v1"},
        },
        "models": {"chat": [["openai/gpt-4o"], ["vllm/qwen"]]},
        "pricing": {"models": {"vllm/*": {"input": 1, "output": 2}}},
    }
)
PRICER = Pricer.from_config(CONFIG)
PROVIDERS = build_providers(CONFIG)


def _route(provider: str, model: str) -> Route:
    return build_route(CONFIG, PROVIDERS, provider, model)


def _request(**params: object) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "chat", "messages": [{"role": "user", "content": "hi"}], **params}
    )


def test_route_worst_case_uses_the_request_output_limit() -> None:
    """The reservation is the request's input bound and its max_tokens at the route's prices."""
    request, route = _request(max_tokens=1000), _route("openai", "gpt-4o")
    expected = (PRICER.input_bound(route, request) * Decimal("2.5") + 1000 * Decimal(10)) / 1_000_000
    assert PRICER.route_worst_case(route, request) == expected


def test_route_worst_case_falls_back_to_the_route_limit() -> None:
    """Without max_tokens the route's max_output_tokens bounds the output; without either, refuse."""
    route = _route("vllm", "qwen")
    with pytest.raises(RequestError, match="no bound and a budget cannot cover it; send max_tokens"):
        PRICER.route_worst_case(route, _request())
    limited = Route(
        route.name,
        route.provider,
        route.upstream_model,
        capabilities=type(route.capabilities)(max_output_tokens=500),
    )
    request = _request()
    assert PRICER.route_worst_case(limited, request) == (input_token_bound(request) * 1 + 500 * 2) / Decimal(
        1_000_000
    )


def test_attempt_cost_prices_reported_usage_at_its_start_time() -> None:
    """An attempt's cost is its usage at the price in force when it started."""
    attempt = Attempt(
        route="openai/o3", model="o3", started_at=datetime(2025, 6, 1, tzinfo=UTC).timestamp(),
        usage=Usage(input_tokens=1000, output_tokens=100),
    )  # fmt: skip
    assert PRICER.attempt_cost(_route("openai", "o3"), _request(), attempt) == Decimal(
        "0.014"
    )  # $10 / $40 then


def test_attempt_cost_of_a_cut_stream_without_usage_is_its_bound() -> None:
    """A stream cut before usage arrived pays the input bound and a token per delivered byte."""
    request = _request()
    attempt = Attempt(route="vllm/qwen", model="qwen", delivered_bytes=300)
    expected = (input_token_bound(request) * 1 + 300 * 2) / Decimal(1_000_000)
    assert PRICER.attempt_cost(_route("vllm", "qwen"), request, attempt) == expected


def test_attempt_cost_of_an_attempt_that_used_nothing() -> None:
    """A refused or failed attempt with no usage and no output costs nothing (None)."""
    attempt = Attempt(route="openai/gpt-4o", model="gpt-4o", outcome="refused")
    assert PRICER.attempt_cost(_route("openai", "gpt-4o"), _request(), attempt) is None


def test_anthropic_normalisation_agrees_with_usage_from_anthropic() -> None:
    """keel.pricing's Anthropic helper and the adapter's Usage.from_anthropic count tokens alike."""
    raw = {
        "input_tokens": 50,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "output_tokens": 3,
    }
    assert usage_from_anthropic(raw) == Usage.from_anthropic(raw)


def _windowed(window: int) -> Route:
    route = _route("vllm", "qwen")
    return Route(
        route.name,
        route.provider,
        route.upstream_model,
        capabilities=type(route.capabilities)(context_window=window),
    )


def test_context_window_bounds_input_and_output_together() -> None:
    """Without an output limit, a context window bounds input and output together, not each in full."""
    request = _request()
    bound = input_token_bound(request)
    # Output ($2/M) dearer than input ($1/M): the worst case is a window's worth of output, no input.
    assert PRICER.route_worst_case(_windowed(1000), request) == Decimal(1000 * 2) / 1_000_000
    dear_input = Pricer(
        load_config({"pricing": {"models": {"vllm/*": {"input": 5, "output": 1}}}}).pricing,
        CONFIG.providers,
    )
    # Input dearer: the whole input bound, and the rest of the window as output.
    assert dear_input.route_worst_case(_windowed(1000), request) == Decimal(bound * 5 + (1000 - bound)) / (
        1_000_000
    )


def test_context_window_smaller_than_the_input_bound_still_covers_a_window_of_output() -> None:
    """An input bound past the window leaves no room by the bound, yet the real input may be shorter."""
    request = _request(messages=[{"role": "user", "content": "word " * 100}])
    assert input_token_bound(request) > 100
    assert PRICER.route_worst_case(_windowed(100), request) == Decimal(
        max(100 * 2, input_token_bound(request) * 1)
    ) / Decimal(1_000_000)


def test_a_claude_route_without_max_tokens_reserves_what_keel_sends() -> None:
    """Anthropic requires max_tokens and Keel sends 4,096 when a caller sets none, so that bounds it."""
    config = load_config(
        {
            "providers": {"claude": {"kind": "anthropic", "api_key": "sk-test"}},
            "models": {"chat": ["claude/claude-haiku-4-5"]},
            "pricing": {"models": {"claude/*": {"input": 1, "output": 5}}},
        }
    )
    route = build_route(config, build_providers(config), "claude", "claude-haiku-4-5")
    request = _request()
    assert Pricer.from_config(config).route_worst_case(route, request) == Decimal(
        input_token_bound(request) * 1 + 4096 * 5
    ) / Decimal(1_000_000)
