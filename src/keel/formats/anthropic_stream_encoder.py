"""Canonical chunks in, Anthropic stream events out: to serve an Anthropic client from any route.

The events follow Anthropic's order: ``message_start``; per content block a ``content_block_start``,
its deltas and a ``content_block_stop`` (thinking, text and each tool call get a block of their
own, opened as their first delta arrives); then ``message_delta`` with the stop reason and usage,
and ``message_stop``. OpenAI reports usage after the finish, so the last two wait for ``finish()``.

An encoder can also take over a stream whose first part was an upstream's own events, passed
through unchanged: ``follow`` each of those, and the chunks encoded after them continue the same
message (the open text block goes on at its index) instead of starting a second one. Anthropic's
stream names the model only in ``message_start``; when the chunks that finish the answer come from
another model, the closing ``message_delta`` names it as ``delta.model`` (an addition the SDK keeps
as an extra field). ``message_start`` names the message by an id derived from the first chunk's
(``anthropic_message_id``), as a translated complete answer is named.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..types import Chunk, Native, Usage
from .anthropic_response import anthropic_message_id, new_tool_id, stop_reason, to_anthropic_usage

__all__ = ["AnthropicStreamEncoder", "sse_frame"]


def sse_frame(event: dict[str, Any]) -> bytes:
    """One server-sent event as Anthropic frames it: ``event: <type>`` and the JSON ``data``."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class AnthropicStreamEncoder:
    """Stateful: ``encode`` each chunk in order, then ``finish`` once the stream has completed."""

    def __init__(self, *, model: str = "", message_id: str | None = None) -> None:
        self.model = model
        self.message_id = message_id  # else derived from the first chunk's id
        self._started = False
        self._index = -1
        self._block: tuple[str, int] | None = None  # (kind, tool-call index) of the open block
        self._stop: str | None = None
        self._usage: Usage | None = None
        self._announced: str | None = None  # the model message_start named

    def encode(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The events this chunk adds (only its first choice: Anthropic gives one answer)."""
        events = self._start(chunk.model, chunk.id)
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self._usage = chunk.usage
        for index, delta, finish_reason in chunk.deltas():
            if index != 0:
                continue
            reasoning = delta.get("reasoning_content")
            if reasoning:
                events += self._open("thinking")
                events.append(self._delta({"type": "thinking_delta", "thinking": reasoning}))
            content = delta.get("content")
            if content:
                events += self._open("text")
                events.append(self._delta({"type": "text_delta", "text": content}))
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if finish_reason:
                self._stop = stop_reason(finish_reason)
        return events

    def follow(self, native: Native) -> None:
        """Note an upstream event sent as it came, so later chunks continue the same message."""
        if native.event == "message_start":
            self._started = True
            message = orjson.loads(native.data).get("message") or {}
            self._announced = self.model = str(message.get("model") or self.model)
        elif native.event == "content_block_start":
            event = orjson.loads(native.data)
            kind = str((event.get("content_block") or {}).get("type") or "")
            self._index = int(event.get("index", self._index + 1))
            self._block = (kind, -1 if kind == "tool_use" else 0)  # no tool-call delta resumes a block
        elif native.event == "content_block_stop":
            self._block = None

    def finish(self) -> list[dict[str, Any]]:
        """The closing events: the open block's stop, ``message_delta`` and ``message_stop``."""
        events = self._start(self.model)
        events += self._close()
        delta: dict[str, Any] = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        if self.model != self._announced:
            delta["model"] = self.model  # a continuation: another model finished the answer
        events.append({"type": "message_delta", "delta": delta, "usage": to_anthropic_usage(self._usage)})
        events.append({"type": "message_stop"})
        return events

    def _start(self, model: str, chunk_id: str = "") -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        self._announced = self.model = model or self.model
        self.message_id = self.message_id or anthropic_message_id(chunk_id)
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def _tool_call(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        position = call.get("index") or 0
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        if self._block != ("tool_use", position):
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or new_tool_id(),
                "name": function.get("name") or "",
                "input": {},
            }
            events += self._open("tool_use", position, block)
        if function.get("arguments"):
            events.append(self._delta({"type": "input_json_delta", "partial_json": function["arguments"]}))
        return events

    def _open(
        self, kind: str, position: int = 0, block: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        if self._block == (kind, position):
            return []
        events = self._close()
        self._index += 1
        self._block = (kind, position)
        if block is None:
            block = (
                {"type": "text", "text": ""} if kind == "text" else {"type": kind, kind: "", "signature": ""}
            )
        events.append({"type": "content_block_start", "index": self._index, "content_block": block})
        return events

    def _close(self) -> list[dict[str, Any]]:
        if self._block is None:
            return []
        self._block = None
        return [{"type": "content_block_stop", "index": self._index}]

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": self._index, "delta": delta}
