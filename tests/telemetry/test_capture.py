"""``ContentCapture``: a call's request and answer as the ledger and its span keep them: redacted, bounded."""

from __future__ import annotations

import secrets

import orjson

from keel.call import Call, Deadline
from keel.config import CaptureConfig
from keel.telemetry.capture import ContentCapture
from keel.types import ChatRequest, ChatResponse

EMAIL = "canary.person@example.com"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
KEY = "sk-" + "canary" + secrets.token_hex(12)  # made here: no committed line looks like a live key


def call(*messages: dict[str, object]) -> Call:
    request = ChatRequest.model_validate({"model": "smart", "messages": list(messages)})
    return Call(request=request, deadline=Deadline.after(10))


def answer(message: dict[str, object], finish: str = "stop") -> ChatResponse:
    return ChatResponse.model_validate({"choices": [{"message": message, "finish_reason": finish}]})


def test_every_text_of_request_and_answer_is_kept_redacted() -> None:
    """System text, user text and parts, tool calls (name and arguments) and tool results, and the
    answer's text, refusal and tool calls are kept in the GenAI conventions' shapes, with every
    address, card, IBAN and key masked."""
    args = orjson.dumps({"to": EMAIL, "card": CARD}).decode()
    request = call(
        {"role": "system", "content": f"Operator key {KEY}."},
        {"role": "user", "content": [{"type": "text", "text": f"Pay {IBAN}"}, {"type": "image_url"}]},
        {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "send", "arguments": args}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"sent to {EMAIL}"},
    )
    response = answer(
        {
            "role": "assistant",
            "content": f"Done, {EMAIL}.",
            "refusal": f"Not {CARD}",
            "tool_calls": [{"id": "c2", "function": {"name": "log", "arguments": f'{{"key": "{KEY}"}}'}}],
        },
        "tool_calls",
    )
    content = ContentCapture(CaptureConfig(content=True))(request, response)
    kept = orjson.dumps(content).decode()
    for canary in (EMAIL, CARD, IBAN, KEY, "4111", "canary"):
        assert canary not in kept, canary
    assert content["system"] == [{"type": "text", "content": "Operator key [SECRET]."}]
    user, assistant, tool = content["input"]
    assert user == {
        "role": "user",
        "parts": [{"type": "text", "content": "Pay [IBAN]"}, {"type": "image_url"}],
    }
    [sent] = assistant["parts"]
    assert sent["type"] == "tool_call" and sent["name"] == "send" and sent["id"] == "c1"
    assert orjson.loads(sent["arguments"]) == {"to": "[EMAIL]", "card": "[CARD]"}
    assert tool == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "c1", "response": "sent to [EMAIL]"}],
    }
    [out] = content["output"]
    assert out["finish_reason"] == "tool_calls"
    assert out["parts"][:2] == [
        {"type": "text", "content": "Done, [EMAIL]."},
        {"type": "refusal", "content": "Not [CARD]"},
    ]
    assert out["parts"][2]["name"] == "log" and out["parts"][2]["arguments"] == '{"key": "[SECRET]"}'
    assert content["truncated"] is False


def test_each_side_is_bounded_and_a_cut_never_leaves_part_of_a_finding() -> None:
    """The request and the answer keep at most ``max_chars`` characters each; a finding the bound
    cuts through is masked whole, not left half-visible; messages past the bound are left out; a
    failed call (no answer) keeps its request."""
    text = "x" * 90 + f" {KEY} " + "y" * 50
    request = call({"role": "user", "content": text}, {"role": "user", "content": "later"})
    bounded = ContentCapture(CaptureConfig(content=True, max_chars=100))
    content = bounded(request, answer({"role": "assistant", "content": "z" * 500}))
    [first] = content["input"]  # the second message is past the bound
    kept = first["parts"][0]["content"]
    assert len(kept) == 100 and kept.startswith("x" * 90 + " [SECRET]") and "canary" not in kept
    assert content["output"][0]["parts"] == [{"type": "text", "content": "z" * 100}]
    assert content["truncated"] is True
    pem = "-----BEGIN PRIVATE KEY-----\n" + "A" * 2000 + "\n-----END PRIVATE KEY-----"
    cut = bounded(call({"role": "user", "content": "key: " + pem}), None)
    assert cut["input"][0]["parts"][0]["content"] == "key: " and cut["output"] is None
