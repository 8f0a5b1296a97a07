"""``/v1/messages`` on the wire: each error as Anthropic's status and type, request checks, and the
event stream passed through, translated, or passed through and then continued."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from keel.errors import (
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ConnectError,
    ContentPolicyError,
    ContextLengthExceededError,
    DeadlineExceededError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    NoRouteAvailableError,
    RateLimitError,
    RateLimitExceededError,
    RequestError,
    RouteUnavailableError,
    ServerError,
    StreamInterruptedError,
    UpstreamTimeoutError,
)
from keel.server.anthropic_sse import AnthropicEvents, error_event
from keel.server.anthropic_wire import anthropic_error, messages_request
from keel.server.errors import ApiError
from keel.types import ChatResponse, Chunk, ChunkChoice, Delta, Usage

from ..formats.sdk_check import accumulate, check_event
from ..formats.test_anthropic_stream import block, decode, decoder, delta, end, start, stop

CUT = StreamInterruptedError("stream interrupted after 3 chunks", partial=ChatResponse())


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ApiError(400, "bad json"), 400, "invalid_request_error"),
        (ApiError(401, "no key"), 401, "authentication_error"),
        (ApiError(403, "not this model"), 403, "permission_error"),
        (ApiError(404, "no such endpoint"), 404, "not_found_error"),
        (ApiError(405, "wrong method"), 405, "invalid_request_error"),
        (ApiError(413, "too large"), 413, "request_too_large"),
        (RequestError("bad"), 400, "invalid_request_error"),
        (ModelNotFoundError("no such model"), 404, "not_found_error"),
        (InvalidRequestError("x", upstream_status=400), 400, "invalid_request_error"),
        (InvalidRequestError("x", upstream_status=404), 404, "not_found_error"),
        (InvalidRequestError("x", upstream_status=413), 413, "request_too_large"),
        (InvalidRequestError("x", upstream_status=422), 422, "invalid_request_error"),
        (ContextLengthExceededError("x"), 400, "invalid_request_error"),
        (ContentPolicyError("x"), 400, "invalid_request_error"),
        (RateLimitError("x", retry_after=30), 429, "rate_limit_error"),
        (BudgetExceededError("x", budget="team"), 429, "budget_exceeded"),
        (RateLimitExceededError("x", limit="rpm", retry_after=2), 429, "rate_limit_error"),
        (ServerError("x", upstream_status=500), 500, "api_error"),
        (ServerError("x", upstream_status=502), 500, "api_error"),
        (ServerError("x", upstream_status=503), 529, "overloaded_error"),
        (ServerError("x", upstream_status=529), 529, "overloaded_error"),
        (MalformedResponseError("x"), 500, "api_error"),
        (ConnectError("x"), 500, "api_error"),
        (AuthenticationError("x", upstream_status=401), 500, "api_error"),
        (UpstreamTimeoutError("x"), 504, "timeout_error"),
        (DeadlineExceededError("x"), 504, "timeout_error"),
        (NoRouteAvailableError("x", retry_after=3), 529, "overloaded_error"),
        (CircuitOpenError("x"), 529, "overloaded_error"),
        (RouteUnavailableError("x"), 529, "overloaded_error"),
        (CUT, 500, "api_error"),
        (ValueError("a bug"), 500, "api_error"),
    ],
)
def test_each_error_has_anthropics_status_and_type(error: BaseException, status: int, kind: str) -> None:
    """Every error class is Anthropic's error shape with the status its type stands for."""
    got, headers, body = anthropic_error(error)
    assert got == status
    assert orjson.loads(body) == {
        "type": "error",
        "error": {"type": kind, "message": orjson.loads(body)["error"]["message"]},
    }
    retry = dict(headers).get(b"x-should-retry")
    assert retry == (None if isinstance(error, RateLimitExceededError) else b"false")


def test_retry_after_is_passed_on() -> None:
    """A known wait goes out as retry-after on 429 and on 529 (from no route available)."""
    for error in (RateLimitError("x", retry_after=30), NoRouteAvailableError("x", retry_after=2.5)):
        assert (b"retry-after", b"30" if isinstance(error, RateLimitError) else b"3") in anthropic_error(
            error
        )[1]


def test_a_bug_says_nothing_more() -> None:
    """An unexpected exception is an api_error that does not leak its text."""
    _, _, body = anthropic_error(ValueError("secret detail"))
    assert b"secret detail" not in body


def test_a_cut_stream_ends_with_an_error_event_naming_the_cut() -> None:
    """After the commit point a failure is ``event: error`` with the cut's message and its cause's type."""
    cause = ServerError("Overloaded", upstream_status=529)
    cut = StreamInterruptedError(
        "stream interrupted after 3 chunks: 529 Overloaded", partial=ChatResponse(), cause=cause
    )
    frame = error_event(cut)
    head, data = frame.split(b"\n", 1)
    assert head == b"event: error" and frame.endswith(b"\n\n")
    payload = orjson.loads(data.removeprefix(b"data: "))
    assert payload["error"] == {"type": "overloaded_error", "message": str(cut)}


GOOD: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"model": None}, "model"),
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": ["hi"]}, "messages.0"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [1]}]}, "messages.0.content"),
        ({"system": 3}, "system"),
        ({"tools": {"name": "x"}}, "tools"),
        ({"tool_choice": "auto"}, "tool_choice"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_a_malformed_request_is_a_400_naming_the_field(change: dict[str, Any], field: str) -> None:
    """A body that is not a Messages request is refused with the field it is wrong in."""
    body = {key: value for key, value in {**GOOD, **change}.items() if value is not None}
    with pytest.raises(ApiError) as caught:
        messages_request(body, {})
    assert caught.value.status == 400 and caught.value.param == field


def test_a_request_keeps_its_body_and_beta_header() -> None:
    """The client's body is the request's native form; anthropic-beta rides along."""
    request, stream = messages_request({**GOOD, "stream": True}, {"anthropic-beta": "a,b"})
    assert stream and request.native_format == "anthropic" and request.native == {**GOOD, "stream": True}
    assert request.native_headers == {"anthropic-beta": "a,b"}
    with pytest.raises(RequestError):
        messages_request({**GOOD, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, {})


def events_of(raw: bytes) -> list[dict[str, Any]]:
    """The events of an SSE byte stream, each checked to say the type its ``event:`` line names."""
    out = []
    for frame in raw.split(b"\n\n"):
        if frame:
            name, data = frame.split(b"\n", 1)
            event = orjson.loads(data.removeprefix(b"data: "))
            assert name == b"event: " + event["type"].encode()
            out.append(event)
    return out


TEXT_EVENTS = [
    start(),
    block(0, {"type": "text", "text": ""}),
    {"type": "ping"},
    delta(0, type="text_delta", text="token0"),
    delta(0, type="text_delta", text=" token1"),
    stop(0),
    *end("end_turn", 2),
]


def test_native_events_pass_through_byte_for_byte() -> None:
    """Chunks from an Anthropic route go out as exactly the events they came from, ping included."""
    events = AnthropicEvents()
    raw = b"".join(events.chunk(chunk) for chunk in decode(TEXT_EVENTS)) + events.end()
    assert raw == b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in TEXT_EVENTS
    )


def text_chunk(text: str, model: str = "gpt") -> Chunk:
    return Chunk(model=model, choices=[ChunkChoice(delta=Delta(content=text))])


def test_a_continuation_goes_on_inside_the_same_message() -> None:
    """After passed-through events, chunks without native events continue the open text block."""
    source = decoder()  # a stream cut after " token1": no close, no message_stop
    cut = [c for e in TEXT_EVENTS[:5] if (c := source.feed(e["type"], orjson.dumps(e))) is not None]
    finish = Chunk(model="gpt", choices=[ChunkChoice(delta=Delta(), finish_reason="stop")])
    usage = Chunk(model="gpt")
    usage.usage = Usage(input_tokens=4, output_tokens=2)
    events = AnthropicEvents()
    raw = b"".join(
        events.chunk(chunk) for chunk in [*cut, text_chunk(" token2"), text_chunk(" token3"), finish, usage]
    )
    raw += events.end()
    got = events_of(raw)
    for event in got:
        check_event(event)
    assert [e["type"] for e in got].count("message_start") == 1
    assert [e["index"] for e in got if e["type"] == "content_block_delta"] == [0, 0, 0, 0]
    assert [e["type"] for e in got][-3:] == ["content_block_stop", "message_delta", "message_stop"]
    message = accumulate(got)
    assert message.content[0].text == "token0 token1 token2 token3"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 2
    assert message.model == "claude-haiku-4-5" and got[-2]["delta"]["model"] == "gpt"  # who finished it


def test_chunks_of_another_format_are_encoded() -> None:
    """A stream from an OpenAI-format route becomes a complete Anthropic event stream."""
    role = Chunk(model="gpt", choices=[ChunkChoice(delta=Delta(role="assistant", content=""))])
    finish = Chunk(model="gpt", choices=[ChunkChoice(delta=Delta(), finish_reason="stop")])
    events = AnthropicEvents()
    raw = b"".join(events.chunk(chunk) for chunk in [role, text_chunk("a"), text_chunk(" b"), finish])
    got = events_of(raw + events.end())
    assert [e["type"] for e in got] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert accumulate(got).content[0].text == "a b"  # type: ignore[union-attr]
