"""Personal data kept from the provider (``guards.pii``) through ``keel serve`` and the SDKs: the
mock receives placeholders only; the client's answer has its own values back, streamed or not (a
placeholder split across chunks: tests/policies/test_pii_redaction.py); a cached answer is restored
with each caller's values; block refuses with Keel's code before any upstream call; flag says so in
a header."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory

ALICE, BOB = "alice.smith@example.com", "bob.jones@example.org"
CARD = "4111 1111 1111 1111"
PLACEHOLDER = "email-1@redacted.invalid"
# The mock answers the sample of this schema: the placeholder the request's first e-mail address gets.
ECHO = {
    "type": "json_schema",
    "json_schema": {
        "name": "reply",
        "schema": {"type": "object", "properties": {"to": {"enum": [PLACEHOLDER]}}, "required": ["to"]},
    },
}


def ask(who: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Write to {who} about the card {CARD}."}]


def test_the_provider_sees_placeholders_and_the_client_its_own_values(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    keel = keel_for(guards={"pii": {"mode": "redact"}})
    model = f"mock/{uid('ok:tokens=3')}"
    with openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model=model, messages=ask(ALICE), response_format=ECHO)  # type: ignore[arg-type]
        assert json.loads(answer.choices[0].message.content or "") == {"to": ALICE}
        streamed = sdk.chat.completions.create(
            model=model,
            messages=ask(ALICE),
            response_format=ECHO,
            stream=True,  # type: ignore[arg-type]
        )
        pieces = [c.choices[0].delta.content or "" for c in streamed if c.choices]
    assert json.loads("".join(pieces)) == {"to": ALICE}
    sent = json.dumps([attempt["body"] for attempt in upstream.attempts(model=model.removeprefix("mock/"))])
    assert ALICE not in sent and "4111" not in sent and PLACEHOLDER in sent and "card-1-redacted" in sent


def test_a_cached_answer_is_restored_with_each_caller_s_values(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """Both requests become the same once redacted: the second is a cache hit, with Bob's address."""
    keel = keel_for(guards={"pii": {"mode": "redact"}})
    model = f"mock/{uid('ok:tokens=3')}"
    body = {"model": model, "temperature": 0, "response_format": ECHO}
    first = httpx.post(f"{keel.v1}/chat/completions", json={**body, "messages": ask(ALICE)}, timeout=10)
    second = httpx.post(f"{keel.v1}/chat/completions", json={**body, "messages": ask(BOB)}, timeout=10)
    assert json.loads(first.json()["choices"][0]["message"]["content"]) == {"to": ALICE}
    assert json.loads(second.json()["choices"][0]["message"]["content"]) == {"to": BOB}
    assert second.headers.get("x-keel-cache") == "hit" and len(upstream.attempts(model=model[5:])) == 1
    assert first.headers["x-keel-guard"] == "pii=redact"


def test_block_refuses_before_any_upstream_call_on_both_apis(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    keel = keel_for(guards={"pii": {"mode": "block", "kinds": ["card"]}})
    model = uid("ok:tokens=3")
    with (
        openai.OpenAI(base_url=keel.v1, api_key="any", max_retries=0) as sdk,
        pytest.raises(openai.BadRequestError) as refused,
    ):
        sdk.chat.completions.create(model=f"mock/{model}", messages=ask(ALICE))  # type: ignore[arg-type]
    assert refused.value.code == "pii_blocked" and "card" in refused.value.message
    assert CARD not in refused.value.message
    with (
        anthropic.Anthropic(base_url=keel.base_url, api_key="any", max_retries=0) as claude,
        pytest.raises(anthropic.BadRequestError) as blocked,
    ):
        claude.messages.create(model=f"claude/{model}", max_tokens=50, messages=ask(ALICE))  # type: ignore[arg-type]
    body = blocked.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "pii_blocked"
    assert blocked.value.response.headers["x-keel-error-code"] == "pii_blocked"
    assert upstream.attempts(model=model) == []
    no_card = [{"role": "user", "content": f"Write to {ALICE}."}]  # e-mail is not a kind it blocks
    answered = httpx.post(f"{keel.v1}/chat/completions", json={"model": f"mock/{model}", "messages": no_card})
    assert answered.status_code == 200


def test_flag_sends_as_is_and_says_so(keel_for: KeelFactory, upstream: MockServer, uid: Any) -> None:
    keel = keel_for(guards={"pii": {"mode": "flag"}})
    model = uid("ok:tokens=3")
    answered = httpx.post(
        f"{keel.v1}/chat/completions", json={"model": f"mock/{model}", "messages": ask(ALICE)}, timeout=10
    )
    assert answered.status_code == 200 and answered.headers["x-keel-guard"] == "pii=flag"
    assert ALICE in json.dumps(upstream.attempts(model=model)[0]["body"])
