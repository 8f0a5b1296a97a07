"""The input bound with the route's own tokenizer: offline, by model family, and still an upper bound."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from keel._build import build_providers, build_route
from keel._prices import tokenizer
from keel.config import load_config
from keel.pricing import Pricer, input_token_bound
from keel.types import ChatRequest

from .._requires import require_module

require_module("bpe_openai", "the offline OpenAI tokenizer, keel[tokenizer]")
assert tokenizer.encoding_for("gpt-4o") == "o200k_base"
tokenizer.preload(["o200k_base"])
assert tokenizer.wait("o200k_base", 60), "o200k_base did not load"
O200K = tokenizer.counter("o200k_base")
assert O200K is not None

CONFIG = load_config(
    {
        "providers": {
            "openai": {"profile": "openai", "api_key": "sk-test"},
            "claude": {"kind": "anthropic", "api_key": "sk-test"},
        },
        "models": {"chat": [["openai/gpt-4o-mini"], ["claude/claude-haiku-4-5"]]},
    }
)
PRICER = Pricer.from_config(CONFIG)
PROVIDERS = build_providers(CONFIG)
PARAGRAPH = (
    "Keel reserves the most a call can cost before it reaches a provider, and settles the reservation "
    "to what the provider reported once the call has ended, so that a budget is never overspent. "
) * 10


def _request(*texts: str) -> ChatRequest:
    return ChatRequest.model_validate(
        {"model": "chat", "messages": [{"role": "user", "content": text} for text in texts]}
    )


def test_the_encodings_load_with_no_network() -> None:
    """Both encodings load in a fresh process whose every network call raises."""
    script = textwrap.dedent(
        """
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network used")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from keel._prices import tokenizer
        tokenizer.preload(["o200k_base", "cl100k_base"])
        assert tokenizer.wait("o200k_base", 60) and tokenizer.wait("cl100k_base", 60)
        print(tokenizer.counter("o200k_base")("hello world"), tokenizer.counter("cl100k_base")("hello world"))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]


def test_the_route_family_picks_the_encoding() -> None:
    """OpenAI's model families map to their encodings; Claude, Gemini and self-hosted models to none."""
    assert tokenizer.encoding_for("gpt-4o-mini") == "o200k_base"
    assert tokenizer.encoding_for("gpt-4.1-nano") == "o200k_base"
    assert tokenizer.encoding_for("o3-mini") == "o200k_base"
    assert tokenizer.encoding_for("openai/gpt-5") == "o200k_base"
    assert tokenizer.encoding_for("gpt-4o-mini:tokens=5") == "o200k_base"
    assert tokenizer.encoding_for("gpt-4-turbo") == "cl100k_base"
    assert tokenizer.encoding_for("gpt-3.5-turbo") == "cl100k_base"
    for model in ("claude-sonnet-4-5", "gemini-2.5-flash", "qwen2.5", "gpt-oss-20b", "o1x", "ollama"):
        assert tokenizer.encoding_for(model) is None, model


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_tokenizer_bound_covers_openais_own_count(texts: list[str]) -> None:
    """The bound is at least OpenAI's documented count: 3 tokens a message, role and content, 3 more."""
    assert O200K is not None
    billed = 3 + sum(3 + O200K("user") + O200K(text) for text in texts)
    assert input_token_bound(_request(*texts), count=O200K) >= billed


def test_tokenizer_bound_is_tighter_than_bytes_on_prose() -> None:
    """A paragraph of English prose is bounded at under a third of its UTF-8 bytes."""
    assert O200K is not None
    tight, loose = input_token_bound(_request(PARAGRAPH), count=O200K), input_token_bound(_request(PARAGRAPH))
    assert tight < loose / 3
    assert tight >= O200K(PARAGRAPH)


def test_the_pricer_uses_the_tokenizer_for_openai_routes_only() -> None:
    """An OpenAI route's reservation counts tokens; a Claude route keeps the UTF-8 bound."""
    request = _request(PARAGRAPH)
    openai = build_route(CONFIG, PROVIDERS, "openai", "gpt-4o-mini")
    claude = build_route(CONFIG, PROVIDERS, "claude", "claude-haiku-4-5")
    assert PRICER.input_bound(openai, request) == input_token_bound(request, count=O200K)
    assert PRICER.input_bound(claude, request) == input_token_bound(request)


def test_the_tokenizer_can_be_turned_off() -> None:
    """``pricing.tokenizer: false`` keeps the UTF-8 bound on an OpenAI route too."""
    config = load_config({**CONFIG.model_dump(mode="json"), "pricing": {"tokenizer": False}})
    request = _request(PARAGRAPH)
    openai = build_route(config, build_providers(config), "openai", "gpt-4o-mini")
    assert Pricer.from_config(config).input_bound(openai, request) == input_token_bound(request)
    assert PRICER.input_bound(openai, request) < input_token_bound(request)
