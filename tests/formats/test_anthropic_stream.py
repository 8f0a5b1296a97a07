"""Streams Anthropic ⇄ OpenAI: events to chunks (each carrying its events) and chunks back to events."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from keel.errors import MalformedResponseError, ServerError, UpstreamError
from keel.formats.anthropic_stream import AnthropicStreamDecoder
from keel.formats.anthropic_stream_encoder import AnthropicStreamEncoder, sse_frame
from keel.formats.anthropic_tools import JSON_TOOL
from keel.providers._anthropic_errors import error_from_payload
from keel.reply import ChunkStream
from keel.types import Chunk, ChunkChoice, Delta, ToolCall, Usage

from .sdk_check import accumulate, check_event


def start(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    message = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 25, "cache_read_input_tokens": 100, "output_tokens": 1},
    }
    return {"type": "message_start", "message": message}


def block(index: int, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def end(reason: str, output_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


# Thinking, text, then a tool call, as Anthropic streams them.
EVENTS: list[dict[str, Any]] = [
    start(),
    block(0, {"type": "thinking", "thinking": "", "signature": ""}),
    delta(0, type="thinking_delta", thinking="Let me"),
    delta(0, type="thinking_delta", thinking=" check."),
    delta(0, type="signature_delta", signature="EqQBCgIYAh"),
    stop(0),
    block(1, {"type": "text", "text": ""}),
    {"type": "ping"},
    delta(1, type="text_delta", text="Checking"),
    delta(1, type="text_delta", text=" now."),
    stop(1),
    block(2, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    delta(2, type="input_json_delta", partial_json=""),
    delta(2, type="input_json_delta", partial_json='{"city": '),
    delta(2, type="input_json_delta", partial_json='"Oslo"}'),
    stop(2),
    *end("tool_use", 42),
]


def decoder(json_tool: str | None = None) -> AnthropicStreamDecoder:
    return AnthropicStreamDecoder(
        route="claude/haiku",
        on_error=lambda payload: error_from_payload(payload, status=200, route="claude/haiku"),
        json_tool=json_tool,
    )


def decode(events: list[dict[str, Any]], json_tool: str | None = None) -> list[Chunk]:
    source = decoder(json_tool)
    chunks = [
        chunk for event in events if (chunk := source.feed(event["type"], orjson.dumps(event))) is not None
    ]
    source.close()
    return chunks


def test_every_event_rides_on_a_chunk_so_the_stream_replays_byte_for_byte() -> None:
    """The chunks' native events, framed again, are exactly the bytes Anthropic sent, in order."""
    for event in EVENTS:
        check_event(event)
    raw = b"".join(sse_frame(event) for event in EVENTS)
    chunks = decode(EVENTS)
    replay = b"".join(
        b"event: " + (n.event or "").encode() + b"\ndata: " + n.data + b"\n\n"
        for c in chunks
        for n in c.native
    )
    assert replay == raw
    assert all(n.format == "anthropic" for c in chunks for n in c.native)


def test_events_become_canonical_chunks() -> None:
    """A role chunk, thinking as ``reasoning_content``, text, a tool call by index, then one finish chunk."""
    chunks = decode(EVENTS)
    deltas = [chunk.choices[0].delta.wire() if chunk.choices else None for chunk in chunks]
    assert deltas[0] == {"role": "assistant"}
    assert [d.get("reasoning_content") for d in deltas[1:3]] == ["Let me", " check."]  # type: ignore[union-attr]
    assert "".join(chunk.text for chunk in chunks) == "Checking now."
    header = chunks[5].choices[0].delta.tool_calls
    assert header is not None and (header[0].index, header[0].id, header[0].function.name) == (
        0,
        "toolu_1",
        "get_weather",
    )
    last = chunks[-1]
    assert last.choices[0].finish_reason == "tool_calls"
    assert [n.event for n in last.native] == ["content_block_stop", "message_delta", "message_stop"]
    assert last.usage == Usage(input_tokens=125, output_tokens=42, cached_input_tokens=100)
    assert all(chunk.id == "msg_01" and chunk.model == "claude-haiku-4-5" for chunk in chunks)
    assert sum(1 for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason) == 1


def test_the_light_accessors_read_what_the_models_read() -> None:
    """Decoded chunks answer ``text``, ``finishes``, ``bears_content`` and the tool-call argument
    deltas from their light form, before any model is built, as the models then say."""
    chunks = decode(EVENTS)
    light = [(c.text, c.finishes(), c.bears_content(), c.tool_argument_deltas()) for c in chunks]
    arguments = "".join(part for c in chunks for _, _, part in c.tool_argument_deltas())
    assert arguments == '{"city": "Oslo"}'
    assert [finish for c in chunks for finish in c.finishes()] == [(0, "tool_calls")]
    for chunk, (text, finishes, bears, _) in zip(chunks, light, strict=True):
        choices = chunk.choices  # the models, built now
        assert text == "".join(choice.delta.content or "" for choice in choices)
        assert finishes == [(c.index, c.finish_reason) for c in choices if c.finish_reason]
        assert bears == any(c.delta.content or c.delta.tool_calls or c.finish_reason for c in choices)


async def test_chunks_assemble_into_the_whole_answer() -> None:
    """Assembled, the chunks give the text, the thinking, and the tool call with its whole arguments."""

    async def source():  # type: ignore[no-untyped-def]
        for chunk in decode(EVENTS):
            yield chunk

    response = await ChunkStream(source()).collect()
    message = response.choices[0].message
    assert message.text() == "Checking now."
    assert (message.model_extra or {})["reasoning_content"] == "Let me check."
    assert message.tool_calls is not None
    assert json.loads(message.tool_calls[0].function.arguments or "") == {"city": "Oslo"}


def test_forced_json_tool_streams_as_text() -> None:
    """The JSON tool's ``input_json_delta`` fragments are text content, and the finish is ``stop``."""
    events = [
        start(),
        block(0, {"type": "tool_use", "id": "toolu_9", "name": JSON_TOOL, "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"a": '),
        delta(0, type="input_json_delta", partial_json='"b"}'),
        stop(0),
        *end("tool_use", 5),
    ]
    chunks = decode(events, json_tool=JSON_TOOL)
    assert json.loads("".join(chunk.text for chunk in chunks)) == {"a": "b"}
    assert not any(chunk.choices and chunk.choices[0].delta.tool_calls for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_stream_without_message_stop_is_malformed() -> None:
    """Even after ``message_delta``, a stream that ends without ``message_stop`` raises, and its finish
    chunk was never delivered."""
    source = decoder()
    chunks = [source.feed(event["type"], orjson.dumps(event)) for event in EVENTS[:-1]]
    assert not any(chunk and chunk.choices and chunk.choices[0].finish_reason for chunk in chunks)
    with pytest.raises(MalformedResponseError, match="message_stop"):
        source.close()


@pytest.mark.parametrize(
    ("kind", "cls", "status"),
    [("overloaded_error", ServerError, 529), ("api_error", ServerError, 500)],
)
def test_an_error_event_raises_its_taxonomy_class(kind: str, cls: type[UpstreamError], status: int) -> None:
    """An in-stream ``error`` event raises the class of the HTTP error it stands for."""
    source = decoder()
    source.feed("message_start", orjson.dumps(start()))
    event = {"type": "error", "error": {"type": kind, "message": "Overloaded"}}
    with pytest.raises(cls) as info:
        source.feed("error", orjson.dumps(event))
    assert info.value.upstream_status == status and info.value.route == "claude/haiku"


def test_an_event_that_is_not_json_is_malformed() -> None:
    """A data line that does not parse, or lacks what its type promises, raises MalformedResponseError."""
    source = decoder()
    with pytest.raises(MalformedResponseError):
        source.feed("content_block_delta", b"{not json")
    with pytest.raises(MalformedResponseError):
        source.feed("content_block_delta", orjson.dumps({"type": "content_block_delta", "index": 0}))


def test_unknown_events_ride_along() -> None:
    """An event type added later carries no canonical content but still reaches the next chunk."""
    future = {"type": "content_block_future", "index": 0}
    events = [
        start(),
        future,
        block(0, {"type": "text", "text": ""}),
        delta(0, type="text_delta", text="hi"),
        stop(0),
        *end("end_turn", 1),
    ]
    chunks = decode(events)
    assert [n.event for n in chunks[1].native] == [
        "content_block_future",
        "content_block_start",
        "content_block_delta",
    ]


def openai_chunks() -> list[Chunk]:
    """An OpenAI-format stream: role, reasoning, text, two tool calls, finish, then usage alone."""

    def chunk(**fields: Any) -> Chunk:
        finish = fields.pop("finish", None)
        return Chunk(
            id="chatcmpl-1",
            model="gpt-4o",
            choices=[ChunkChoice(delta=Delta(**fields), finish_reason=finish)],
        )

    def call(index: int, **fields: Any) -> ToolCall:
        return ToolCall.model_validate({"index": index, **fields})

    usage = Chunk(id="chatcmpl-1", model="gpt-4o", choices=[])
    usage.usage = Usage(input_tokens=30, output_tokens=12, cached_input_tokens=10)
    return [
        chunk(role="assistant", content=""),
        chunk(reasoning_content="Hmm."),
        chunk(content="Checking"),
        chunk(content=" both."),
        chunk(
            tool_calls=[
                call(0, id="call_1", type="function", function={"name": "get_weather", "arguments": ""})
            ]
        ),
        chunk(tool_calls=[call(0, function={"arguments": '{"city":'})]),
        chunk(tool_calls=[call(0, function={"arguments": '"Oslo"}'})]),
        chunk(
            tool_calls=[
                call(
                    1,
                    id="call_2",
                    type="function",
                    function={"name": "get_weather", "arguments": '{"city":"Rome"}'},
                )
            ]
        ),
        chunk(finish="tool_calls"),
        usage,
    ]


def encode(chunks: list[Chunk]) -> list[dict[str, Any]]:
    encoder = AnthropicStreamEncoder()
    events = [event for chunk in chunks for event in encoder.encode(chunk)]
    return events + encoder.finish()


def test_encoder_emits_anthropic_events_in_order() -> None:
    """message_start, a block per kind of content (opened, closed), message_delta, message_stop."""
    events = encode(openai_chunks())
    for event in events:
        check_event(event)
    kinds = [event["type"] for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [event["content_block"]["type"] for event in events if event["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use", "tool_use"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 4
    assert [event["index"] for event in events if event["type"] == "content_block_start"] == [0, 1, 2, 3]
    final = events[-2]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"] == {
        "input_tokens": 20,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 10,
        "output_tokens": 12,
    }


def test_the_sdk_builds_the_whole_message_from_encoded_events() -> None:
    """The official SDK's stream helper accumulates the encoded events into the complete answer."""
    message = accumulate(encode(openai_chunks()))
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[1].text == "Checking both."  # type: ignore[union-attr]
    assert [block.input for block in message.content[2:]] == [{"city": "Oslo"}, {"city": "Rome"}]  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"


def test_round_trip_through_both_directions() -> None:
    """Anthropic events → chunks → Anthropic events give the SDK the same message (less signatures)."""
    original = accumulate(EVENTS)
    again = accumulate(encode(decode(EVENTS)))
    assert [b.type for b in again.content] == [b.type for b in original.content]
    assert again.content[1].text == original.content[1].text  # type: ignore[union-attr]
    assert again.content[2].input == original.content[2].input  # type: ignore[union-attr]
    assert again.content[0].thinking == original.content[0].thinking  # type: ignore[union-attr]
    assert again.stop_reason == original.stop_reason
    assert again.usage.output_tokens == 42 and again.usage.cache_read_input_tokens == 100


def test_an_empty_stream_still_encodes_a_complete_message() -> None:
    """``finish`` alone gives message_start, message_delta and message_stop: a valid empty answer."""
    encoder = AnthropicStreamEncoder(model="m")
    events = encoder.finish()
    assert [event["type"] for event in events] == ["message_start", "message_delta", "message_stop"]
    assert accumulate(events).stop_reason == "end_turn"
