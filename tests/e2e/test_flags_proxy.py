"""Feature flags through ``keel serve`` with the official OpenAI and Anthropic SDKs: the feature
header brings the variant's model and prompt to the mock, a feature off with no fallback is the
distinct refusal ``feature_disabled`` on both APIs, and the OpenFeature SDK with Keel's provider
against the admin API evaluates what the server applies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from keel.flags.openfeature_provider import KeelProvider
from keel.mock import MockServer

from .._support.markers import without_canary
from .conftest import RunningKeel, mock_config, start_keel

MASTER = "sk-master-flags-test"
AUTH = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture(scope="module")
def flagged(upstream: MockServer) -> Iterator[tuple[RunningKeel, str, str]]:
    """A server whose flag ``summarizer`` sends 50 % of users to model ``large`` with prompt
    ``brief``, the rest to ``small``; flag ``paused`` is killed and has no fallback."""
    small, large = "ok:tokens=2,id=flags-small", "ok:tokens=3,id=flags-large"
    config = mock_config(
        upstream,
        {"small": [f"mock/{small}"], "large": [f"mock/{large}"]},
        server={"master_key": MASTER},
    )
    running = start_keel(config)
    admin = httpx.Client(base_url=f"{running.base_url}/admin", headers=AUTH, timeout=10)
    created = admin.post("/prompts/brief/versions", json={"model": "large", "system": "Be brief."})
    assert created.status_code == 201, created.text
    flag = {
        "variants": {"old": {"model": "small"}, "new": {"model": "large", "prompt": "brief@1"}},
        "default": "old",
    }
    assert admin.put("/flags/summarizer", json=flag).status_code == 200
    assert admin.post("/flags/summarizer/rollout", json={"rollout": {"new": 50}}).status_code == 200
    assert admin.put("/flags/paused", json={"variants": {"on": {}}, "default": "on"}).status_code == 200
    assert admin.post("/flags/paused/kill").status_code == 200
    admin.close()
    yield running, small, large
    running.stop()


def _variant_of(keel: RunningKeel, user: str) -> str:
    found = httpx.get(f"{keel.base_url}/admin/flags/summarizer/evaluate", params={"user": user}, headers=AUTH)
    return str(found.json()["variant"])


def test_openai_sdk_feature_header_brings_the_variant_s_model_and_prompt(
    flagged: tuple[RunningKeel, str, str], upstream: MockServer
) -> None:
    """Users on ``new`` reach model large with the prompt's system text first; users on ``old``
    reach small with their own messages only; the answer's x-keel-feature names the variant."""
    keel, small, large = flagged
    users = {name: _variant_of(keel, name) for name in (f"oa-{n}" for n in range(12))}
    assert set(users.values()) == {"old", "new"}
    before = {model: len(upstream.attempts(model=model)) for model in (small, large)}
    with openai.OpenAI(base_url=keel.v1, api_key=MASTER, max_retries=0) as sdk:
        for name, variant in users.items():
            raw = sdk.chat.completions.with_raw_response.create(
                model="small",
                messages=[{"role": "user", "content": f"hello from {name}"}],
                extra_headers={"x-keel-feature": "summarizer", "x-keel-user": name},
            )
            assert raw.headers["x-keel-feature"] == f"summarizer={variant}"
            model = large if variant == "new" else small
            body = upstream.attempts(model=model)[-1]["body"]
            assert body["messages"][-1]["content"] == f"hello from {name}"
            if variant == "new":
                body, _ = without_canary(body)
            assert (body["messages"][0] == {"role": "system", "content": "Be brief."}) == (variant == "new")
    after = {model: len(upstream.attempts(model=model)) for model in (small, large)}
    assert after[large] - before[large] == list(users.values()).count("new")
    assert after[small] - before[small] == list(users.values()).count("old")


def test_anthropic_sdk_feature_header_brings_the_variant_s_model_and_prompt(
    flagged: tuple[RunningKeel, str, str], upstream: MockServer
) -> None:
    """Through /v1/messages, the user as metadata.user_id: the new variant's model and prompt reach
    the mock (translated to its OpenAI side)."""
    keel, _, large = flagged
    name = next(n for n in (f"an-{i}" for i in range(50)) if _variant_of(keel, n) == "new")
    with anthropic.Anthropic(base_url=keel.base_url, api_key=MASTER, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="small",
            max_tokens=20,
            messages=[{"role": "user", "content": "hi there"}],
            metadata={"user_id": name},
            extra_headers={"x-keel-feature": "summarizer"},
        )
    assert raw.headers["x-keel-feature"] == "summarizer=new"
    body, _ = without_canary(upstream.attempts(model=large)[-1]["body"])
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][-1]["content"] == "hi there"


def test_a_feature_off_without_fallback_is_feature_disabled_on_both_apis(
    flagged: tuple[RunningKeel, str, str],
) -> None:
    """403 with code feature_disabled (OpenAI's code, Anthropic's error.type, x-keel-error-code),
    not retried by either SDK."""
    keel, _, _ = flagged
    with (
        openai.OpenAI(base_url=keel.v1, api_key=MASTER) as sdk,
        pytest.raises(openai.PermissionDeniedError) as oa,
    ):
        sdk.chat.completions.create(
            model="small",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-keel-feature": "paused"},
        )
    assert oa.value.status_code == 403 and oa.value.code == "feature_disabled"
    assert oa.value.response.headers["x-keel-error-code"] == "feature_disabled"
    with (
        anthropic.Anthropic(base_url=keel.base_url, api_key=MASTER) as claude,
        pytest.raises(anthropic.PermissionDeniedError) as an,
    ):
        claude.messages.create(
            model="small",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-keel-feature": "paused"},
        )
    error: Any = an.value.body
    assert an.value.status_code == 403 and error["error"]["type"] == "feature_disabled"
    assert an.value.response.headers["x-keel-error-code"] == "feature_disabled"


def test_openfeature_against_keel_serve_evaluates_what_the_server_applies(
    flagged: tuple[RunningKeel, str, str],
) -> None:
    """KeelProvider(base_url=...) in the OpenFeature SDK: for 20 users, the string variant equals
    the x-keel-feature the server answers their calls with; the killed flag is false."""
    keel, _, _ = flagged
    api.set_provider(KeelProvider(base_url=keel.base_url, api_key=MASTER), domain="keel-remote")
    client = api.get_client("keel-remote")
    with openai.OpenAI(base_url=keel.v1, api_key=MASTER, max_retries=0) as sdk:
        for name in (f"of-{n}" for n in range(20)):
            variant = client.get_string_value("summarizer", "none", EvaluationContext(name))
            raw = sdk.chat.completions.with_raw_response.create(
                model="small",
                messages=[{"role": "user", "content": "hi"}],
                user=name,
                extra_headers={"x-keel-feature": "summarizer"},
            )
            assert raw.headers["x-keel-feature"] == f"summarizer={variant}"
    assert client.get_boolean_value("paused", True, EvaluationContext("u")) is False
