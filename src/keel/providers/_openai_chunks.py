"""One OpenAI stream event as a light ``Chunk``: parsed once, checked where the gateway reads it.

Nothing per event builds a validated model: the fields the gateway, its policies and the library's
``Chunk`` accessors read — the choices' index, role, content, reasoning text, tool-call deltas and
finish reason, and the chunk's id, model and creation time — are type-checked by hand, so that the
``ChunkChoice`` models built later on demand cannot fail, and a malformed event is refused at once.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import MalformedResponseError
from ..types import Chunk, Native, Usage
from ._finishes import Finishes
from ._openai_errors import error_from_payload

__all__ = ["OpenAIStreamDecoder", "parse_chunk"]

_TEXT = (str, type(None))


class OpenAIStreamDecoder:
    """One Chat Completions stream's events as chunks (``BatchReader``'s decoder): complete at
    ``[DONE]``, or, for servers that close without it, once every choice has its finish reason."""

    __slots__ = ("_finishes", "_usage_asked", "done", "request_id", "route")

    def __init__(self, route: str, request_id: str | None, *, choices: int, usage_asked: bool) -> None:
        self.route = route
        self.request_id = request_id
        self.done = False
        self._finishes = Finishes(choices)
        self._usage_asked = usage_asked

    def feed(self, event: str, data: bytes) -> Chunk | None:
        if data == b"[DONE]":
            self.done = True
            return None
        chunk = parse_chunk(data, self.route, self.request_id)
        self._finishes.see(chunk)
        return chunk

    def close(self, cut: MalformedResponseError | None = None) -> None:
        """Without ``[DONE]``: complete if every choice finished (logged once), else ``cut`` or a
        ``MalformedResponseError``."""
        if not self._finishes.complete:
            raise cut or MalformedResponseError(
                "stream ended without [DONE]", route=self.route, upstream_request_id=self.request_id
            )
        self._finishes.ended_without_done(self.route, self.request_id, usage_asked=self._usage_asked)


def parse_chunk(data: bytes, route: str, request_id: str | None) -> Chunk:
    """The chunk ``data`` (one event's JSON) encodes.

    Raises:
        UpstreamError: the event is an in-stream error, as its taxonomy class.
        MalformedResponseError: it is not a chat completion chunk.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _malformed(route, request_id) from exc
    if type(raw) is not dict:
        raise _malformed(route, request_id)
    choices = raw.get("choices")
    if choices is None:
        if "error" in raw:
            raise error_from_payload(raw, status=500, route=route)
        choices = []
    if type(choices) is not list or not _well_formed(raw):
        raise _malformed(route, request_id)
    for choice in choices:
        if not _choice_ok(choice):
            raise _malformed(route, request_id)
    chunk = Chunk.of_wire(raw, choices, (Native("openai", data),))
    usage = raw.get("usage")
    if usage:
        if type(usage) is not dict:
            raise _malformed(route, request_id)
        chunk.usage = Usage.from_openai(usage)
    return chunk


def _well_formed(raw: dict[str, Any]) -> bool:
    id_, model, created = raw.get("id"), raw.get("model"), raw.get("created")
    return (
        (id_ is None or type(id_) is str)
        and (model is None or type(model) is str)
        and (created is None or type(created) is int)
    )


_DELTA_TEXT = frozenset(("content", "role", "reasoning_content"))


def _choice_ok(choice: Any) -> bool:
    if type(choice) is not dict:
        return False
    index, finish, delta = choice.get("index"), choice.get("finish_reason"), choice.get("delta")
    if not ((index is None or type(index) is int) and (finish is None or type(finish) is str)):
        return False
    if delta is None:
        return True
    if type(delta) is not dict:
        return False
    for key, value in delta.items():  # usually one or two
        if value is None or type(value) is str:
            continue
        if key in _DELTA_TEXT:
            return False
        if key == "tool_calls" and not (type(value) is list and all(_tool_call_ok(call) for call in value)):
            return False
    return True


def _tool_call_ok(call: Any) -> bool:
    if type(call) is not dict:
        return False
    function = call.get("function")
    return (
        type(function) is dict
        and isinstance(function.get("name"), _TEXT)
        and isinstance(function.get("arguments"), _TEXT)
        and isinstance(call.get("id"), _TEXT)
        and isinstance(call.get("type"), _TEXT)
        and isinstance(call.get("index"), int | None)
    )


def _malformed(route: str, request_id: str | None) -> MalformedResponseError:
    return MalformedResponseError("malformed stream event", route=route, upstream_request_id=request_id)
