"""Checks of wire shapes against the official ``anthropic`` SDK's own types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import MessageCreateParamsBase, MessageCreateParamsNonStreaming
from pydantic import TypeAdapter

__all__ = ["REQUEST_KEYS", "accumulate", "check_event", "check_message", "check_request"]

# SDK 2.x types follow API version 2026-10-21, which dropped the sampling fields; Keel sends
# anthropic-version 2023-06-01, where they still exist.
SAMPLING_KEYS = frozenset({"temperature", "top_p", "top_k"})
REQUEST_KEYS = (
    MessageCreateParamsBase.__required_keys__ | MessageCreateParamsBase.__optional_keys__ | {"stream"}
)
_REQUEST = TypeAdapter(MessageCreateParamsNonStreaming)
_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def _drain(value: Any) -> Any:
    """Consume the SDK's lazily validated iterables, so every nested item is validated."""
    if isinstance(value, dict):
        return {key: _drain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | Iterator):
        return [_drain(item) for item in value]
    return value


def check_request(body: dict[str, Any]) -> None:
    """Fail unless ``body`` has only fields the Messages API defines and the SDK's param types accept it."""
    unknown = set(body) - REQUEST_KEYS - SAMPLING_KEYS
    assert not unknown, f"fields the Messages API does not define: {unknown}"
    _drain(_REQUEST.validate_python({key: value for key, value in body.items() if key != "stream"}))


def check_message(message: dict[str, Any]) -> Message:
    """The SDK's ``Message`` for a response body (raises if the SDK would not accept it)."""
    return Message.model_validate(message)


def check_event(event: dict[str, Any]) -> None:
    """Fail unless the SDK's stream event types accept ``event`` (``ping`` is not among them)."""
    if event["type"] != "ping":
        _EVENT.validate_python(event)


def accumulate(events: list[dict[str, Any]]) -> Message:
    """The ``Message`` the SDK's own stream helper builds from these events (pings skipped)."""
    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] != "ping":
            snapshot = accumulate_event(
                event=_EVENT.validate_python(event), current_snapshot=snapshot, json_bufs=buffers
            )
    return Message.model_validate(snapshot.model_dump())
