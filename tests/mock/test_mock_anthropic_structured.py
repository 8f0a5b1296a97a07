"""The structured-output behaviours on the Anthropic side: a forced tool's input, or the text, mangled."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import json_repair
import pytest

from keel.mock import MockServer
from keel.mock.answer import split_pieces

from .test_mock_json_faults import EXPECTED, EXPECTED_ANSWER, SCHEMA, VALID, VALUE, unwrap

USER: Any = [{"role": "user", "content": "extract"}]
REFUSAL = "I can't help with that."
TOOLS: Any = [{"name": "page", "description": "a page", "input_schema": SCHEMA}]
FORCED: dict[str, dict[str, Any]] = {
    "tool": {"tools": TOOLS, "tool_choice": {"type": "tool", "name": "page"}},
    "any": {"tools": TOOLS, "tool_choice": {"type": "any"}},
}


async def ask(
    claude: anthropic.AsyncAnthropic, model: str, stream: bool, **extra: Any
) -> tuple[str, str, str, int]:
    """The answer block's type (``text``/``tool_use``), its text or input JSON, stop reason, output tokens."""
    if not stream:
        reply = await claude.messages.create(model=model, max_tokens=100, messages=USER, **extra)
        (block,) = reply.content
        assert reply.stop_reason is not None
        text = json.dumps(block.input) if block.type == "tool_use" else block.text  # type: ignore[union-attr]
        return block.type, text, reply.stop_reason, reply.usage.output_tokens
    kind, parts, stop, tokens = "", [], "", 0
    events = await claude.messages.create(model=model, max_tokens=100, messages=USER, stream=True, **extra)
    async for event in events:
        if event.type == "content_block_start":
            kind = event.content_block.type
        elif event.type == "content_block_delta":
            delta = event.delta
            parts.append(
                delta.partial_json if delta.type == "input_json_delta" else getattr(delta, "text", "")
            )
        elif event.type == "message_delta":
            stop, tokens = event.delta.stop_reason or "", event.usage.output_tokens
    assert parts == split_pieces("".join(parts))  # the mangled text split as usual, one delta a piece
    return kind, "".join(parts), stop, tokens


@pytest.mark.parametrize("behaviour", sorted(EXPECTED))
async def test_streamed_tool_input_is_mangled_as_named(
    claude: anthropic.AsyncAnthropic, behaviour: str
) -> None:
    """Streamed, a forced tool's ``input_json_delta`` pieces add up to exactly the mangled text."""
    for choice, extra in FORCED.items():
        kind, text, stop, tokens = await ask(claude, f"{behaviour}:tokens=2,id={choice}", True, **extra)
        assert (kind, text) == ("tool_use", EXPECTED[behaviour])
        assert stop == ("max_tokens" if behaviour == "json-truncated" else "tool_use")
        assert tokens == len(split_pieces(EXPECTED[behaviour])) + 1


@pytest.mark.parametrize("behaviour", sorted(EXPECTED))
async def test_whole_message_tool_input_or_text_block(
    claude: anthropic.AsyncAnthropic, behaviour: str
) -> None:
    """Not streamed, input still a JSON object is the ``tool_use`` input; any other becomes a text block."""
    kind, text, stop, tokens = await ask(claude, f"{behaviour}:tokens=2", False, **FORCED["tool"])
    if behaviour in ("json-wrong-type", "json-missing-field", "json-bad-urls"):
        assert (kind, text, stop) == ("tool_use", EXPECTED[behaviour], "tool_use")
        assert tokens == len(split_pieces(EXPECTED[behaviour])) + 1
    else:
        assert (kind, text) == ("text", EXPECTED[behaviour])
        assert stop == ("max_tokens" if behaviour == "json-truncated" else "end_turn")
        assert tokens == len(split_pieces(EXPECTED[behaviour]))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("behaviour", sorted(EXPECTED_ANSWER))
async def test_without_tools_the_answer_json_is_mangled_as_text(
    claude: anthropic.AsyncAnthropic, behaviour: str, stream: bool
) -> None:
    """Without tools the text block is ``{"answer": "<words>"}``, mangled."""
    kind, text, stop, _ = await ask(claude, f"{behaviour}:tokens=2", stream)
    assert (kind, text) == ("text", EXPECTED_ANSWER[behaviour])
    assert stop == ("max_tokens" if behaviour == "json-truncated" else "end_turn")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_refusal_is_a_text_block_with_stop_reason_refusal(
    claude: anthropic.AsyncAnthropic, stream: bool
) -> None:
    """``refusal`` answers a text block with the refusal, stop reason ``refusal``, even with a forced tool."""
    for index, extra in enumerate(({}, FORCED["tool"])):
        answer = await ask(claude, f"refusal:id={index}", stream, **extra)
        assert answer == ("text", REFUSAL, "refusal", 5)


async def test_times_then_valid_json(claude: anthropic.AsyncAnthropic, server: MockServer) -> None:
    """``json-invalid`` fails once by default, ``times=N`` N times; then tool input or text is valid JSON."""
    model = "json-invalid:tokens=2"
    assert (await ask(claude, model, True, **FORCED["tool"]))[1] == EXPECTED["json-invalid"]
    assert await ask(claude, model, False, **FORCED["tool"]) == (
        "tool_use",
        VALID,
        "tool_use",
        len(split_pieces(VALID)) + 1,
    )
    model = "json-wrong-type:tokens=2,times=1"
    assert (await ask(claude, model, False))[1] == '{"answer": 42}'
    assert await ask(claude, model, True) == ("text", '{"answer": "token0 token1"}', "end_turn", 3)
    assert [a["outcome"] for a in server.attempts(model=model)] == ["ok", "ok"]


@pytest.mark.parametrize("behaviour", ["json-repairable", "json-fenced", "json-prose", "json-invalid"])
async def test_json_repair_on_the_streamed_input(claude: anthropic.AsyncAnthropic, behaviour: str) -> None:
    """json-repair restores the tool input from repairable text and from fenced or prose text once stripped,
    but not from the invalid answer."""
    _, text, _, _ = await ask(claude, f"{behaviour}:tokens=2", True, **FORCED["any"])
    repaired = json_repair.repair_json(
        unwrap(text) if behaviour != "json-repairable" else text, return_objects=True
    )
    assert (repaired == VALUE) is (behaviour != "json-invalid")
