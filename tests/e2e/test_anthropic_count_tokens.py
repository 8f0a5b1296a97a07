"""``POST /v1/messages/count_tokens`` through ``keel serve``: the official ``anthropic`` SDK's
``messages.count_tokens`` gets the Claude route's own count, with the SDK's error classes."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2 as httpx
import jsonschema
import pytest

from keel.mock import MockServer
from keel.server.openapi import DOCUMENT

from .conftest import KeelFactory, RunningKeel, issue_key, mock_config, start_keel

SYSTEM = "You answer in one short sentence."
TURNS: Any = [
    {"role": "user", "content": "What is the weather in Paris today?"},
    {"role": "assistant", "content": "Let me look."},
    {"role": "user", "content": [{"type": "text", "text": "Thanks, and in Rome?"}]},
]
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def counted(upstream: MockServer, model: str) -> list[dict[str, Any]]:
    return [a for a in upstream.attempts(model=model) if a.get("endpoint") == "count_tokens"]


def test_the_claude_routes_count_reaches_the_sdk(
    claude: anthropic.Anthropic, upstream: MockServer, uid: Any
) -> None:
    """The count is the upstream's, for the body the client sent (system and tools included) with the
    canary a call's attempt adds to the system text, and equals the input the same body then uses in
    a real call."""
    model = uid("ok:tokens=3")
    counts = claude.messages.count_tokens(
        model=f"claude/{model}", system=SYSTEM, messages=TURNS, tools=[WEATHER]
    )
    [seen] = counted(upstream, model)
    system = seen["body"].pop("system")
    assert seen["body"] == {"model": model, "messages": TURNS, "tools": [WEATHER]}
    assert system.startswith(SYSTEM + "\n\nConfidential reference ref-")
    canary_note = system[len(SYSTEM) :]
    # the mock counts words of system and messages
    assert counts.input_tokens == 6 + 7 + 3 + 4 + len(canary_note.split())
    assert seen["headers"]["anthropic-version"]
    message = claude.messages.create(model=f"claude/{model}", max_tokens=50, system=SYSTEM, messages=TURNS)
    assert message.usage.input_tokens == counts.input_tokens


def test_keel_headers_and_the_beta_header(keel: RunningKeel, upstream: MockServer, uid: Any) -> None:
    """The answer names its route and carries the upstream's request id; ``anthropic-beta`` (the
    SDK's ``betas=``) reaches the upstream."""
    model = uid("ok")
    with anthropic.Anthropic(base_url=keel.base_url, api_key="any", timeout=10) as sdk:
        raw = sdk.beta.messages.with_raw_response.count_tokens(
            model=f"claude/{model}", messages=TURNS[:1], betas=["token-efficient-tools-2025-02-19"]
        )
    assert raw.parse().input_tokens == 7
    schema = {**DOCUMENT, "$ref": "#/components/schemas/AnthropicTokenCount"}
    jsonschema.validate(raw.http_response.json(), schema)
    [seen] = counted(upstream, model)
    assert raw.headers["x-keel-route"] == f"claude/{model}"
    assert raw.headers["x-keel-attempts"] == "1"
    assert raw.headers["x-keel-upstream-request-id"] == seen["request_id"]
    assert "token-efficient-tools-2025-02-19" in seen["headers"]["anthropic-beta"]


def test_a_failing_claude_route_falls_back_to_the_next(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """Routes in tier order, skipping OpenAI-compatible ones (they cannot count): an overloaded
    Claude route is passed over for the next Claude route."""
    first, second = uid("overloaded"), uid("ok")
    running = keel_for({"smart": [f"mock/{uid('ok')}", f"claude/{first}", f"claude/{second}"]})
    with anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10) as sdk:
        raw = sdk.messages.with_raw_response.count_tokens(model="smart", messages=TURNS[:1])
    assert raw.parse().input_tokens == 7
    assert raw.headers["x-keel-route"] == f"claude/{second}"
    assert raw.headers["x-keel-attempts"] == "2"
    assert [a["outcome"] for a in counted(upstream, first)] == ["529"]
    assert len(counted(upstream, second)) == 1


def test_a_model_without_a_claude_route_is_a_clear_400(claude: anthropic.Anthropic, uid: Any) -> None:
    """An OpenAI-compatible route cannot count Claude's tokens: a BadRequestError saying so, not a guess."""
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.count_tokens(model=f"mock/{uid('ok')}", messages=TURNS)
    assert "no Claude route" in info.value.message
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("behaviour", "error", "outcome"),
    [
        ("rate-limit:retry_after=0", anthropic.RateLimitError, "429"),
        ("overloaded", anthropic.InternalServerError, "529"),
        ("error-500", anthropic.InternalServerError, "500"),
    ],
)
def test_upstream_errors_reach_the_sdk_once(
    claude: anthropic.Anthropic, upstream: MockServer, uid: Any, behaviour: str, error: type, outcome: str
) -> None:
    """The SDK (default retries) raises its own class, and ``x-should-retry: false`` keeps it from
    repeating: the upstream sees one request."""
    model = uid(behaviour)
    with pytest.raises(error):
        claude.messages.count_tokens(model=f"claude/{model}", messages=TURNS)
    assert [a["outcome"] for a in counted(upstream, model)] == [outcome]


def test_bad_bodies_and_unknown_models(keel: RunningKeel, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.count_tokens(model="no-such-model", messages=TURNS)
    for body, field in [
        ({"messages": TURNS}, "model"),
        ({"model": "fast"}, "messages"),
        ({"model": "fast", "messages": []}, "messages"),
    ]:
        response = httpx.post(f"{keel.base_url}/v1/messages/count_tokens", json=body, timeout=5)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "error"
        assert response.json()["error"]["message"].startswith(field)
    response = httpx.get(f"{keel.base_url}/v1/messages/count_tokens", timeout=5)
    assert response.status_code == 405 and response.json()["error"]["type"] == "invalid_request_error"


def test_a_route_whose_circuit_is_open_is_not_asked(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """A Claude route whose circuit the chat calls opened is passed over: its count is not asked for,
    and the next Claude route counts."""
    broken, good = uid("error-500"), uid("ok")
    running = keel_for(
        {"smart": [f"claude/{broken}", f"claude/{good}"]},
        breaker={"failure_threshold": 1, "open_for": 30},
        retry={"max_attempts": 1},
    )
    with anthropic.Anthropic(base_url=running.base_url, api_key="any", timeout=10) as sdk:
        sdk.messages.create(model="smart", max_tokens=20, messages=TURNS[:1])  # opens the first circuit
        raw = sdk.messages.with_raw_response.count_tokens(model="smart", messages=TURNS[:1])
    assert raw.parse().input_tokens == 7
    assert raw.headers["x-keel-route"] == f"claude/{good}" and raw.headers["x-keel-attempts"] == "1"
    assert counted(upstream, broken) == []
    assert [a["outcome"] for a in upstream.attempts(model=broken)] == ["500"]


def count(server: RunningKeel, model: str, key: str = "any", **body: Any) -> httpx.Response:
    payload = {"model": model, "messages": TURNS[:1], **body}
    headers = {"x-api-key": key}
    return httpx.post(
        f"{server.base_url}/v1/messages/count_tokens", json=payload, headers=headers, timeout=10
    )


def test_the_same_count_again_comes_from_the_cache(keel: RunningKeel, upstream: MockServer, uid: Any) -> None:
    """Counting the same body twice asks the upstream once: the second answer is the same bytes,
    marked as a hit, naming the route that counted it and no attempt; another body is counted anew."""
    model = f"claude/{uid('ok')}"
    first, again = count(keel, model), count(keel, model)
    assert first.headers["x-keel-cache"] == "miss" and again.headers["x-keel-cache"] == "hit"
    assert again.content == first.content and again.json() == {"input_tokens": 7}
    assert again.headers["x-keel-route"] == model and again.headers["x-keel-attempts"] == "0"
    other = count(keel, model, system="Be brief.")
    # two words of system text, and the 17 of the canary note an attempt adds to it
    assert other.headers["x-keel-cache"] == "miss" and other.json() == {"input_tokens": 7 + 2 + 17}
    assert len(counted(upstream, model.removeprefix("claude/"))) == 2


def test_failures_are_not_cached_and_the_cache_can_be_off(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """A refused count is asked for again next time; with ``cache.enabled: false`` every count goes
    upstream and carries no cache header."""
    flaky = uid("rate-limit:times=1,retry_after=0")
    plain = keel_for()
    assert count(plain, f"claude/{flaky}").status_code == 429
    assert count(plain, f"claude/{flaky}").headers["x-keel-cache"] == "miss"
    assert count(plain, f"claude/{flaky}").headers["x-keel-cache"] == "hit"
    assert [a["outcome"] for a in counted(upstream, flaky)] == ["429", "ok"]
    model = uid("ok")
    off = keel_for(cache={"enabled": False})
    answers = [count(off, f"claude/{model}") for _ in range(2)]
    assert all(a.status_code == 200 and "x-keel-cache" not in a.headers for a in answers)
    assert len(counted(upstream, model)) == 2


def test_two_tenants_never_share_a_count(upstream: MockServer, tmp_path: Any, uid: Any) -> None:
    """As chat entries: the same body counted with two teams' keys is two upstream requests."""
    model = uid("ok")
    running = start_keel(
        mock_config(
            upstream, {}, server={"master_key": "mk-count-master"}, database=f"sqlite:///{tmp_path / 'k.db'}"
        )
    )
    try:
        red, blue = (issue_key(running, name, team=name)[1] for name in ("red", "blue"))
        assert count(running, f"claude/{model}", key=red).headers["x-keel-cache"] == "miss"
        assert count(running, f"claude/{model}", key=blue).headers["x-keel-cache"] == "miss"
        assert count(running, f"claude/{model}", key=red).headers["x-keel-cache"] == "hit"
        assert count(running, f"claude/{model}").status_code == 401
    finally:
        running.stop()
    assert len(counted(upstream, model)) == 2


def test_the_callers_cache_choices_apply_to_counts(keel: RunningKeel, upstream: MockServer, uid: Any) -> None:
    """``Cache-Control: no-store`` neither reads nor keeps; ``no-cache`` counts anew and keeps it."""
    model = f"claude/{uid('ok')}"

    def with_header(value: str) -> httpx.Response:
        payload = {"model": model, "messages": TURNS[:1]}
        headers = {"cache-control": value}
        return httpx.post(
            f"{keel.base_url}/v1/messages/count_tokens", json=payload, headers=headers, timeout=10
        )

    assert "x-keel-cache" not in with_header("no-store").headers
    assert count(keel, model).headers["x-keel-cache"] == "miss"  # no-store kept nothing
    assert with_header("no-cache").headers["x-keel-cache"] == "refresh"
    assert count(keel, model).headers["x-keel-cache"] == "hit"
    assert len(counted(upstream, model.removeprefix("claude/"))) == 3
