"""Anthropic stream events in, canonical chunks out — each chunk carrying the events it came from.

Every event rides on a chunk as a ``Native``, in order, so an Anthropic client of an Anthropic route
can be sent the upstream's stream byte for byte. Events with no canonical content — the start of a
text or thinking block, ``content_block_stop``, ``ping``, ``signature_delta``, event types added
later — wait and ride on the next chunk. ``message_start`` is the role chunk. ``message_delta`` (stop
reason and usage) is held until ``message_stop`` and sent with it, so a finish reaches the caller
only once the stream is known to be complete; a stream without ``message_stop`` is malformed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import MalformedResponseError, UpstreamError
from ..types import Chunk, Native, Usage
from .anthropic_response import finish_reason

__all__ = ["AnthropicStreamDecoder"]


class AnthropicStreamDecoder:
    """Turns one Anthropic event stream into chunks; ``feed`` each SSE event, then ``close``.

    Args:
        route: the route's name, for errors.
        on_error: builds the taxonomy error for an in-stream ``error`` event's payload.
        json_tool: the forced tool whose input is the answer (see ``anthropic_tools.JSON_TOOL``):
            its input streams as text content instead of a tool call.
        request_id: the upstream's request id, for errors.
    """

    def __init__(
        self,
        *,
        route: str,
        on_error: Callable[[dict[str, Any]], UpstreamError],
        json_tool: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.route = route
        self.request_id = request_id
        self.done = False
        self._on_error = on_error
        self._json_tool = json_tool
        self._pending: list[Native] = []
        self._held: Chunk | None = None
        self._held_choice: dict[str, Any] = {}  # the held chunk's choice, which takes the finish
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}  # Anthropic block index → OpenAI tool-call index
        self._json_blocks: set[int] = set()

    def feed(self, event: str, data: bytes) -> Chunk | None:
        """The chunk this event completes, or None while it waits to ride on a later one.

        Raises:
            UpstreamError: an ``error`` event, as its taxonomy class (``overloaded_error`` → ServerError).
            MalformedResponseError: an event that is not JSON or not what the protocol promises.
        """
        native = Native("anthropic", data, event=event or None)
        try:
            payload = orjson.loads(data)
            kind = payload.get("type") or event
            if kind == "error":
                raise self._on_error(payload)
            return self._event(kind, payload, native)
        except UpstreamError:
            raise
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                f"malformed stream event {event or '?'!r}",
                route=self.route,
                upstream_request_id=self.request_id,
            ) from exc

    def close(self, cut: MalformedResponseError | None = None) -> None:
        """Check the stream ended properly (``cut``: the connection closed mid-body).

        Raises:
            MalformedResponseError: it ended without ``message_stop`` (``cut`` if it was cut).
        """
        if cut is not None:
            raise cut
        if not self.done:
            raise MalformedResponseError(
                "stream ended without message_stop", route=self.route, upstream_request_id=self.request_id
            )

    def _event(self, kind: str, payload: dict[str, Any], native: Native) -> Chunk | None:
        if kind == "message_start":
            message = payload["message"]
            self._id, self._model = str(message.get("id") or ""), str(message.get("model") or "")
            self._usage = dict(message.get("usage") or {})
            return self._chunk({"role": "assistant"}, native)
        if kind == "content_block_start":
            return self._block_start(int(payload["index"]), payload["content_block"], native)
        if kind == "content_block_delta":
            return self._block_delta(int(payload["index"]), payload["delta"], native)
        if kind == "message_delta":
            self._message_delta(payload, native)
            return None
        if kind == "message_stop":
            self.done = True
            held, self._held = self._held, None
            if held is None:
                return self._chunk(None, native)
            held.native = (*held.native, *self._pending, native)
            self._pending = []
            return held
        self._pending.append(native)  # content_block_stop, ping, and event types added later
        return None

    def _block_start(self, index: int, block: dict[str, Any], native: Native) -> Chunk | None:
        kind = block.get("type")
        if kind == "tool_use" and self._json_tool is not None and block.get("name") == self._json_tool:
            self._json_blocks.add(index)
        elif kind == "tool_use":
            position = self._tools[index] = len(self._tools)
            call = {
                "index": position,
                "id": _text(block.get("id")),
                "type": "function",
                "function": {"name": _text(block.get("name")), "arguments": ""},
            }
            return self._chunk({"tool_calls": [call]}, native)
        elif kind == "text" and block.get("text"):
            return self._chunk({"content": _text(block["text"])}, native)
        self._pending.append(native)
        return None

    def _block_delta(self, index: int, delta: dict[str, Any], native: Native) -> Chunk | None:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._chunk({"content": _text(delta["text"])}, native)
        if kind == "input_json_delta" and index in self._json_blocks:
            return self._chunk({"content": _text(delta["partial_json"])}, native)
        if kind == "input_json_delta":
            call = {"index": self._tools[index], "function": {"arguments": _text(delta["partial_json"])}}
            return self._chunk({"tool_calls": [call]}, native)
        if kind == "thinking_delta":
            return self._chunk({"reasoning_content": _text(delta["thinking"])}, native)
        self._pending.append(native)  # signature_delta, citations_delta: no canonical form
        return None

    def _message_delta(self, payload: dict[str, Any], native: Native) -> None:
        self._usage.update(
            {key: value for key, value in (payload.get("usage") or {}).items() if value is not None}
        )
        finish = finish_reason((payload.get("delta") or {}).get("stop_reason"))
        if finish == "tool_calls" and self._json_blocks and not self._tools:
            finish = "stop"  # the forced JSON tool is how the answer came, not a call to make
        held = self._held
        if held is None:
            self._held_choice = {"index": 0, "delta": {}}
            held = Chunk(id=self._id, created=self._created, model=self._model, choices=[self._held_choice])
        held.native = (*held.native, *self._pending, native)
        self._pending = []
        self._held_choice["finish_reason"] = finish or self._held_choice.get("finish_reason")
        held.usage = Usage.from_anthropic(self._usage)
        self._held = held

    def _chunk(self, delta: dict[str, Any] | None, native: Native | None) -> Chunk:
        """A chunk for ``delta`` (None: no choice at all), carrying the waiting events and ``native``."""
        choices = [] if delta is None else [{"index": 0, "delta": delta}]
        chunk = Chunk(id=self._id, created=self._created, model=self._model, choices=choices)
        chunk.native = (*self._pending, native) if native is not None else tuple(self._pending)
        self._pending = []
        return chunk


def _text(value: Any) -> str | None:
    """``value`` if it is text (or absent); a malformed event otherwise."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected text, not {type(value).__name__}")
