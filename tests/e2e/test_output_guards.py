"""Output guards through ``keel serve`` with the official SDKs: a stream is cut where it breaks a
guard — the client gets what came before and an error event with Keel's code, the mock sees its
connection closed within a second, the ledger records the guard and bills what was sent; complete
answers are refused with the code on both APIs; a flag is a header, never the text."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .conftest import KeelFactory, user
from .test_cache import ledger_rows

GUARDS = {
    "output": [
        {"name": "no-forbidden", "kind": "patterns", "patterns": [r"forbidden\d+"]},
        {"name": "short", "kind": "max_length", "max_chars": 20, "mode": "flag"},
        {"kind": "secrets"},
    ]
}


@pytest.fixture
def guarded(keel_for: KeelFactory, uid: Any) -> Any:
    return keel_for(guards=GUARDS, ledger={"durability": "strict"})


def test_a_stream_is_cut_where_it_breaks_a_guard(guarded: Any, upstream: MockServer, uid: Any) -> None:
    model = uid("ok:tokens=400,token_ms=5,forbidden_at=30")
    received: list[str] = []
    with openai.OpenAI(base_url=guarded.v1, api_key="any", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(
            model=f"mock/{model}", messages=user(), stream=True, stream_options={"include_usage": True}
        )
        with pytest.raises(openai.APIError) as info:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    cut = time.monotonic()
    assert "output_guard_triggered" in str(info.value.body) or "no-forbidden" in info.value.message
    assert "".join(received).split() == [f"token{i}" for i in range(30)]
    deadline = cut + 1.0
    while not upstream.attempts(model=model)[0].get("closed_at"):
        assert time.monotonic() < deadline, "the upstream was not closed within 1 s"
        time.sleep(0.01)
    sent = upstream.attempts(model=model)[0]["chunks_sent"]
    assert sent < 100
    deadline = time.monotonic() + 5
    while not (rows := [r for r in ledger_rows(guarded) if r["requested_model"] == f"mock/{model}"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [row] = rows
    assert row["status"] == "output_guard_triggered" and row["guards"] == "short=flag,no-forbidden=block"
    # Billed at least what the client received; the stream ended before its usage, so by its bound:
    # at most a token per byte of what the mock sent (each "tokenN " piece is one of its frames).
    assert 30 <= row["output_tokens"] <= sent * len(" forbidden399")


def test_a_complete_answer_is_refused_with_keel_s_code_on_both_apis(
    guarded: Any, upstream: MockServer, uid: Any
) -> None:
    model = uid("ok:tokens=40,forbidden_at=30")
    with (
        openai.OpenAI(base_url=guarded.v1, api_key="any", max_retries=0) as sdk,
        pytest.raises(openai.UnprocessableEntityError) as info,
    ):
        sdk.chat.completions.create(model=f"mock/{model}", messages=user())
    assert info.value.code == "output_guard_triggered"
    assert info.value.response.headers["x-keel-error-code"] == "output_guard_triggered"
    assert "forbidden3" not in info.value.message
    claude_model = uid("ok:tokens=40,forbidden_at=30,x=claude")
    with (
        anthropic.Anthropic(base_url=guarded.base_url, api_key="any", max_retries=0) as claude,
        pytest.raises(anthropic.UnprocessableEntityError) as refused,
    ):
        claude.messages.create(model=f"claude/{claude_model}", max_tokens=100, messages=user())  # type: ignore[arg-type]
    body = refused.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "output_guard_triggered"
    assert refused.value.response.headers["x-keel-error-code"] == "output_guard_triggered"


def test_a_flag_is_a_header_and_a_metric(guarded: Any, upstream: MockServer, uid: Any) -> None:
    model = uid("ok:tokens=10")
    answer = httpx.post(
        f"{guarded.v1}/chat/completions", json={"model": f"mock/{model}", "messages": user()}, timeout=10
    )
    assert answer.status_code == 200 and answer.headers["x-keel-guard"] == "short=flag"
    metrics = httpx.get(f"{guarded.base_url}/metrics", timeout=10).text
    assert 'keel_guards_total{guard="short",mode="flag"}' in metrics


def test_a_credential_in_an_answer_is_blocked_by_default(keel_for: KeelFactory, uid: Any) -> None:
    """With no guards configured, an answer that carries an API key is stopped, streamed or not."""
    keel = keel_for()
    key = "sk-proj-" + "Zq9" * 12
    schema = {"type": "object", "properties": {"key": {"enum": [key]}}, "required": ["key"]}
    body = {
        "model": f"mock/{uid('ok')}",
        "messages": user(),
        "response_format": {"type": "json_schema", "json_schema": {"name": "k", "schema": schema}},
    }
    answer = httpx.post(f"{keel.v1}/chat/completions", json=body, timeout=10)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "output_guard_triggered"
    assert key not in answer.text
    streamed = httpx.post(f"{keel.v1}/chat/completions", json={**body, "stream": True}, timeout=10)
    assert key not in streamed.text and "output_guard_triggered" in streamed.text
    assert "[DONE]" not in streamed.text


def test_personal_data_in_an_answer_is_blocked_unless_the_caller_sent_it(
    keel_for: KeelFactory, upstream: MockServer, uid: Any
) -> None:
    """The ``pii`` output guard stops an answer that carries an e-mail address the request did not,
    streamed or not, saying which kind and never the value; the caller's own address comes back."""
    keel = keel_for(guards={"output": [{"kind": "pii"}]})
    address = "jane.doe@example.org"
    schema = {"type": "object", "properties": {"contact": {"enum": [address]}}, "required": ["contact"]}
    body = {
        "model": f"mock/{uid('ok')}",
        "messages": user("Who should I write to?"),
        "response_format": {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}},
    }
    refused = httpx.post(f"{keel.v1}/chat/completions", json=body, timeout=10)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "output_guard_triggered"
    assert "personal data (email)" in refused.json()["error"]["message"] and address not in refused.text
    streamed = httpx.post(f"{keel.v1}/chat/completions", json={**body, "stream": True}, timeout=10)
    assert "output_guard_triggered" in streamed.text and "[DONE]" not in streamed.text
    assert address not in streamed.text
    own = {**body, "messages": user("I am Jane.Doe@example.org: who should I write to?")}
    answered = httpx.post(f"{keel.v1}/chat/completions", json=own, timeout=10)
    assert answered.status_code == 200 and address in answered.text and "x-keel-guard" not in answered.headers
    own_streamed = httpx.post(f"{keel.v1}/chat/completions", json={**own, "stream": True}, timeout=10)
    assert address in own_streamed.text.replace('\\"', '"') or "jane" in own_streamed.text
    assert own_streamed.text.rstrip().endswith("[DONE]")
