"""The semantic cache through ``keel serve``: a paraphrase hits; changed numbers, negations or system
prompts never do (all-MiniLM-L6-v2 on ONNX Runtime, from the ``semantic`` extra)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .._requires import require_module
from .conftest import KeelFactory, RunningKeel

require_module("onnxruntime", "the semantic extra")


def ask(server: RunningKeel, model: str, text: str, system: str | None = None) -> httpx.Response:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": text})
    body = {"model": model, "messages": messages, "temperature": 0}
    return httpx.post(f"{server.v1}/chat/completions", json=body, timeout=10)


def test_a_paraphrase_is_a_semantic_hit(keel_for: KeelFactory, upstream: MockServer, uid) -> None:
    """A reworded question within the default threshold is answered from the cache, saying how close."""
    model = uid("ok:tokens=4")
    running = keel_for(cache={"semantic": {"enabled": True}})
    first = ask(running, f"mock/{model}", "How do I reset my password?")
    again = ask(running, f"mock/{model}", "How can I reset my password?")
    assert first.headers["x-keel-cache"] == "miss"
    assert again.headers["x-keel-cache"] == "hit" and again.headers["x-keel-cache-kind"] == "semantic"
    assert 0.95 <= float(again.headers["x-keel-cache-similarity"]) <= 1
    assert again.json()["choices"] == first.json()["choices"]
    assert len(upstream.attempts(model=model)) == 1


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Summarize this article in 3 bullet points", "Summarize this article in 5 bullet points"),
        ("Summarize this article in three bullet points", "Summarize this article in 4 bullet points"),
        ("Is the payment service available?", "Is the payment service not available?"),
        ("Should I restart the server?", "Shouldn't I restart the server?"),
    ],
    ids=["digits", "words", "not", "contraction"],
)
def test_numbers_and_negations_must_agree(
    keel_for: KeelFactory, upstream: MockServer, uid, stored: str, asked: str
) -> None:
    """Under a threshold loose enough to match them, prompts differing in a number or a negation miss."""
    model = uid("ok:tokens=3")
    running = keel_for(cache={"semantic": {"enabled": True, "threshold": 0.8}})
    ask(running, f"mock/{model}", stored)
    assert ask(running, f"mock/{model}", asked).headers["x-keel-cache"] == "miss"
    assert len(upstream.attempts(model=model)) == 2


def test_a_different_system_prompt_misses(keel_for: KeelFactory, upstream: MockServer, uid) -> None:
    """The same question under another system prompt is never a semantic hit."""
    model = uid("ok:tokens=3")
    running = keel_for(cache={"semantic": {"enabled": True, "threshold": 0.8}})
    ask(running, f"mock/{model}", "How do I reset my password?", system="You are terse.")
    response = ask(running, f"mock/{model}", "How can I reset my password?", system="You are verbose.")
    assert response.headers["x-keel-cache"] == "miss"
    assert len(upstream.attempts(model=model)) == 2
