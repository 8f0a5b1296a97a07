"""The structured-output behaviours on the OpenAI side: JSON content and tool arguments, mangled."""

from __future__ import annotations

from typing import Any

import json_repair
import openai
import pytest

from keel.mock import MockServer
from keel.mock.answer import split_pieces

from .test_mock_json_faults import EXPECTED, EXPECTED_ANSWER, SCHEMA, VALID, VALUE, unwrap

USER: Any = [{"role": "user", "content": "extract"}]
REFUSAL = "I can't help with that."
RESPONSE_FORMAT: Any = {"type": "json_schema", "json_schema": {"name": "page", "schema": SCHEMA}}
TOOLS: Any = [{"type": "function", "function": {"name": "page", "parameters": SCHEMA}}]
KINDS: dict[str, dict[str, Any]] = {
    "json_schema": {"response_format": RESPONSE_FORMAT},
    "forced_tool": {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "page"}}},
    "required_tool": {"tools": TOOLS, "tool_choice": "required"},
}


async def ask(
    client: openai.AsyncOpenAI, model: str, stream: bool, **extra: Any
) -> tuple[str | None, str, int]:
    """The text the client gets (content, arguments or ``refusal:…``), finish reason, output tokens."""
    if not stream:
        reply = await client.chat.completions.create(model=model, messages=USER, **extra)
        choice, message = reply.choices[0], reply.choices[0].message
        assert reply.usage is not None
        if message.refusal is not None:
            assert message.content is None and not message.tool_calls
            return "refusal:" + message.refusal, choice.finish_reason, reply.usage.completion_tokens
        text = message.tool_calls[0].function.arguments if message.tool_calls else message.content
        return text, choice.finish_reason, reply.usage.completion_tokens
    parts: list[str] = []
    refusal: list[str] = []
    finish, tokens, pieces = "", 0, 0
    chunks = await client.chat.completions.create(
        model=model, messages=USER, stream=True, stream_options={"include_usage": True}, **extra
    )
    async for chunk in chunks:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            delta = choice.delta
            if delta.refusal:
                refusal.append(delta.refusal)
            if delta.content:
                parts.append(delta.content)
            for call in delta.tool_calls or []:
                if call.function and call.function.arguments:
                    parts.append(call.function.arguments)
            pieces += (
                1
                if delta.content or delta.refusal or (delta.tool_calls and not delta.tool_calls[0].id)
                else 0
            )
            finish = choice.finish_reason or finish
    text = "refusal:" + "".join(refusal) if refusal else "".join(parts)
    assert pieces == len(split_pieces(text.removeprefix("refusal:")))  # the mangled text split as usual
    return text, finish, tokens


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("behaviour", sorted(EXPECTED))
async def test_structured_answer_is_mangled_as_named(
    client: openai.AsyncOpenAI, behaviour: str, stream: bool
) -> None:
    """Schema content and forced tool arguments arrive exactly as mangled; usage counts the pieces."""
    for kind, extra in KINDS.items():
        text, finish, tokens = await ask(client, f"{behaviour}:tokens=2,id={kind}", stream, **extra)
        assert text == EXPECTED[behaviour], kind
        tool = kind != "json_schema"
        assert finish == ("length" if behaviour == "json-truncated" else "tool_calls" if tool else "stop")
        assert tokens == len(split_pieces(EXPECTED[behaviour])) + (1 if tool else 0)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("behaviour", sorted(EXPECTED_ANSWER))
async def test_without_a_schema_the_answer_json_is_mangled(
    client: openai.AsyncOpenAI, behaviour: str, stream: bool
) -> None:
    """A plain or ``json_object`` request gets ``{"answer": "<words>"}`` as content, mangled."""
    for kind, extra in enumerate(({}, {"response_format": {"type": "json_object"}})):
        text, finish, _ = await ask(client, f"{behaviour}:tokens=2,id={kind}", stream, **extra)
        assert text == EXPECTED_ANSWER[behaviour]
        assert finish == ("length" if behaviour == "json-truncated" else "stop")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_refusal_sets_refusal_and_no_content(client: openai.AsyncOpenAI, stream: bool) -> None:
    """``refusal`` answers ``message.refusal`` (streamed as deltas), no content or tool call, ``stop``."""
    for extra in ({}, KINDS["json_schema"], KINDS["forced_tool"]):
        text, finish, tokens = await ask(client, "refusal", stream, **extra)
        assert (text, finish, tokens) == ("refusal:" + REFUSAL, "stop", 5)


async def test_times_then_valid_json(client: openai.AsyncOpenAI, server: MockServer) -> None:
    """``json-invalid`` and ``json-truncated`` fail once by default, ``times=N`` N times; then valid."""
    schema: Any = {"response_format": RESPONSE_FORMAT}
    for model, bad in (
        ("json-invalid:tokens=2", 1),
        ("json-truncated:tokens=2", 1),
        ("json-fenced:tokens=2,times=2", 2),
    ):
        texts = [(await ask(client, model, False, **schema))[:2] for _ in range(bad + 1)]
        assert texts[-1] == (VALID, "stop") and all(text != VALID for text, _ in texts[:-1])
        assert [a["outcome"] for a in server.attempts(model=model)] == ["ok"] * (bad + 1)
    # Past ``times`` a plain request gets the JSON answer, not the plain words ``ok`` gives.
    assert await ask(client, "refusal:tokens=2,times=1", False) == ("refusal:" + REFUSAL, "stop", 5)
    assert await ask(client, "refusal:tokens=2,times=1", True) == ('{"answer": "token0 token1"}', "stop", 3)
    assert [a["behaviour"] for a in server.attempts(model="refusal:tokens=2,times=1")] == ["refusal"] * 2
    tool: Any = KINDS["forced_tool"]
    assert (await ask(client, "json-repairable:tokens=2,times=0", False, **tool))[:2] == (VALID, "tool_calls")


@pytest.mark.parametrize("behaviour", ["json-repairable", "json-fenced", "json-prose", "json-invalid"])
async def test_json_repair_on_what_the_client_received(client: openai.AsyncOpenAI, behaviour: str) -> None:
    """json-repair restores the schema's object from repairable text and from fenced or prose text once
    stripped, but not from the invalid answer."""
    text, _, _ = await ask(client, f"{behaviour}:tokens=2", True, response_format=RESPONSE_FORMAT)
    assert text is not None
    repaired = json_repair.repair_json(
        unwrap(text) if behaviour != "json-repairable" else text, return_objects=True
    )
    assert (repaired == VALUE) is (behaviour != "json-invalid")


async def test_a_prefill_that_begins_the_json_is_continued(client: openai.AsyncOpenAI) -> None:
    """After an assistant prefill ``{`` the reply is the rest of the mangled text."""
    messages: Any = [*USER, {"role": "assistant", "content": "{"}]
    reply = await client.chat.completions.create(model="json-wrong-type:tokens=2", messages=messages)
    assert "{" + (reply.choices[0].message.content or "") == '{"answer": 42}'
