"""The cache key names a call exactly: what changes an answer changes it, what cannot does not."""

from __future__ import annotations

from typing import Any

import pytest

from keel.call import Call, Deadline
from keel.policies._cache_entry import cacheable, decode_entry, encode_entry
from keel.policies._cache_key import clear_pattern, eligible, entry_key, tenant_of
from keel.types import ChatRequest, ChatResponse, Choice, Message, Usage


def call(options: dict[str, Any] | None = None, **fields: Any) -> Call:
    request = ChatRequest(model="smart", messages=[Message(role="user", content="hi")], **fields)
    return Call(request=request, deadline=Deadline.after(10), options=options or {})


def key(**fields: Any) -> str:
    return entry_key(call(**fields).request, "key:k1")


def test_fields_that_cannot_change_the_answer_are_left_out() -> None:
    """Streaming, stream options and the end-user id do not change the key."""
    assert key(temperature=0) == key(temperature=0, stream=True, stream_options={"include_usage": True})
    assert key(temperature=0) == key(temperature=0, user="someone")


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"seed": 1},
        {"max_tokens": 10},
        {"stop": ["x"]},
        {"n": 2},
        {"top_p": 0.5},
        {"response_format": {"type": "json_object"}},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"tool_choice": "none"},
        {"logit_bias": {"1": 2}},  # an unknown (extra) field counts too
    ],
)
def test_every_output_changing_field_changes_the_key(change: dict[str, Any]) -> None:
    """Any parameter that can change the output, known to Keel or not, gives a different key."""
    assert key(temperature=0) != key(**{"temperature": 0, **change})


def test_tenant_model_and_messages_change_the_key() -> None:
    """A different tenant, model alias or message is a different entry."""
    base = call(temperature=0).request
    assert entry_key(base, "key:a") != entry_key(base, "key:b")
    other_model = base.model_copy(update={"model": "fast"})
    assert entry_key(base, "key:a") != entry_key(other_model, "key:a")
    other_text = base.model_copy(update={"messages": [Message(role="user", content="hi!")]})
    assert entry_key(base, "key:a") != entry_key(other_text, "key:a")


def test_keys_hold_no_raw_names_and_clear_by_pattern() -> None:
    """Keys carry hashes only, with the digest in a hash tag; the clear pattern matches its model's."""
    value = entry_key(call(temperature=0).request, "key:secret-team")
    assert "smart" not in value and "secret-team" not in value and value.endswith("}")
    from fnmatch import fnmatchcase

    assert fnmatchcase(value, clear_pattern("smart")) and not fnmatchcase(value, clear_pattern("fast"))
    assert fnmatchcase(value, clear_pattern(tenant="key:secret-team"))


def test_eligibility_and_tenants() -> None:
    """Deterministic calls are eligible unless the caller says no; others only if the caller says yes."""
    assert eligible(call(temperature=0)) and eligible(call(seed=7))
    assert not eligible(call()) and not eligible(call(temperature=0.2))
    assert eligible(call({"cache": True}, temperature=1)) and not eligible(
        call({"cache": False}, temperature=0)
    )
    assert tenant_of(call({"key_id": "k1", "team": "t"}), "key") == "key:k1"
    assert tenant_of(call({"key_id": "k1", "team": "t"}), "team") == "team:t"
    assert tenant_of(call({"key_id": "k1"}), "team") == "key:k1"
    assert tenant_of(call(), "key") == "anonymous"


def test_entries_round_trip_compressed_or_not() -> None:
    """A response survives encoding (compressed when large) with its usage; a corrupt one is a ValueError."""
    for text in ("short", "long " * 500):
        response = ChatResponse(
            id="c1",
            model="m",
            choices=[Choice(message=Message(role="assistant", content=text), finish_reason="stop")],
            usage=Usage(input_tokens=3, output_tokens=4),
        )
        data = encode_entry(response, now=100.0)
        assert data[:1] == (b"z" if len(text) > 100 else b"j")
        answer = decode_entry(data)
        assert answer.response.text == text and answer.response.usage == response.usage
        assert answer.stored_at == 100.0
    for corrupt in (b"", b"jnot json", b"z\x00\x01", b'j{"stored_at": 1}'):
        with pytest.raises(ValueError):
            decode_entry(corrupt)


def test_only_whole_answers_are_cacheable() -> None:
    """An answer without a finish reason, or stopped by a content filter, is not kept."""
    whole = Choice(message=Message(role="assistant", content="x"), finish_reason="stop")
    assert cacheable(ChatResponse(choices=[whole]))
    assert not cacheable(ChatResponse(choices=[]))
    assert not cacheable(ChatResponse(choices=[whole.model_copy(update={"finish_reason": None})]))
    assert not cacheable(ChatResponse(choices=[whole.model_copy(update={"finish_reason": "content_filter"})]))
