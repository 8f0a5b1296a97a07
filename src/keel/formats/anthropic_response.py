"""Complete answers between the formats: an Anthropic ``Message`` ⇄ a canonical ``ChatResponse``.

Stop reasons map ``end_turn``/``stop_sequence``/``pause_turn`` → ``stop``, ``max_tokens`` and
``model_context_window_exceeded`` → ``length``, ``tool_use`` → ``tool_calls``, ``refusal`` →
``content_filter``. Thinking is kept on the message as ``reasoning_content`` (its text, as
OpenAI-compatible servers name it) and ``thinking_blocks`` (the blocks with their signatures, to send
back on a later turn).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import orjson

from ..types import ChatResponse, Choice, FunctionCall, Message, ToolCall, Usage

__all__ = [
    "FINISH_REASONS",
    "STOP_REASONS",
    "anthropic_message_id",
    "finish_reason",
    "from_anthropic_message",
    "new_message_id",
    "new_tool_id",
    "stop_reason",
    "to_anthropic_message",
    "to_anthropic_usage",
    "tool_input",
]

STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_THINKING = ("thinking", "redacted_thinking")


def finish_reason(stop: str | None) -> str | None:
    """OpenAI's ``finish_reason`` for Anthropic's ``stop_reason`` (an unknown one reads as ``stop``)."""
    return None if stop is None else STOP_REASONS.get(stop, "stop")


def stop_reason(finish: str | None) -> str | None:
    """Anthropic's ``stop_reason`` for OpenAI's ``finish_reason``."""
    return None if finish is None else FINISH_REASONS.get(finish, "end_turn")


def from_anthropic_message(raw: Any, *, json_tool: str | None = None) -> ChatResponse:
    """The canonical response for an Anthropic ``Message``; the ``json_tool``'s input becomes the text.

    Raises:
        ValueError: ``raw`` is not a Message.
    """
    if not isinstance(raw, dict) or raw.get("type") != "message" or not isinstance(raw.get("content"), list):
        raise ValueError("not an Anthropic message")
    texts: list[str] = []
    answers: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    for block in raw["content"]:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use" and json_tool is not None and block.get("name") == json_tool:
            answers.append(orjson.dumps(block.get("input") or {}).decode())
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                ToolCall(
                    id=block.get("id"), function=FunctionCall(name=block.get("name"), arguments=arguments)
                )
            )
        elif kind in _THINKING:
            thinking.append(block)
    text = "".join(answers or texts)
    extra: dict[str, Any] = {}
    if thinking:
        extra["reasoning_content"] = "".join(block.get("thinking") or "" for block in thinking)
        extra["thinking_blocks"] = thinking
    message = Message(
        role="assistant", content=text if text or not calls else None, tool_calls=calls or None, **extra
    )
    finish = finish_reason(raw.get("stop_reason")) or "stop"
    if answers and not calls and finish == "tool_calls":
        finish = "stop"  # the forced JSON tool is how the answer came, not a call for the caller to make
    return ChatResponse(
        id=str(raw.get("id") or ""),
        created=int(time.time()),
        model=str(raw.get("model") or ""),
        choices=[Choice(index=0, message=message, finish_reason=finish)],
        usage=Usage.from_anthropic(raw.get("usage")),
    )


def to_anthropic_message(response: ChatResponse) -> dict[str, Any]:
    """Anthropic's ``Message`` for a canonical response (its first choice).

    ``reasoning_content`` without ``thinking_blocks`` (from an OpenAI-compatible reasoning model)
    becomes a thinking block with an empty signature: readable, but not one Anthropic would accept back.
    """
    choice = response.choices[0] if response.choices else Choice(message=Message(role="assistant"))
    message = choice.message
    extra = message.model_extra or {}
    blocks: list[dict[str, Any]] = [dict(block) for block in extra.get("thinking_blocks") or ()]
    if not blocks and extra.get("reasoning_content"):
        blocks.append({"type": "thinking", "thinking": extra["reasoning_content"], "signature": ""})
    if message.text():
        blocks.append({"type": "text", "text": message.text()})
    for call in message.tool_calls or ():
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id or new_tool_id(),
                "name": call.function.name or "",
                "input": tool_input(call.function.arguments),
            }
        )
    return {
        "id": anthropic_message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": blocks,
        "stop_reason": stop_reason(choice.finish_reason or "stop"),
        "stop_sequence": None,
        "usage": to_anthropic_usage(response.usage),
    }


def tool_input(arguments: str | None) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic's ``input`` is; unparseable text is kept whole."""
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"_raw_arguments": arguments}


def to_anthropic_usage(usage: Usage | None) -> dict[str, int]:
    """Anthropic's usage object: its ``input_tokens`` leave out the cache reads and writes."""
    usage = usage or Usage()
    uncached = usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens
    return {
        "input_tokens": max(uncached, 0),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
    }


def anthropic_message_id(source: str | None) -> str:
    """A ``msg_…`` id for an answer whose own id is ``source``: an Anthropic id is kept, any other
    (``chatcmpl-…``) gives one derived from it, so the same answer always has the same id."""
    if not source:
        return new_message_id()
    if source.startswith("msg_"):
        return source
    return "msg_" + hashlib.blake2b(source.encode(), digest_size=12).hexdigest()


def new_message_id() -> str:
    """An id in Anthropic's style, ``msg_…``."""
    return "msg_" + secrets.token_hex(12)


def new_tool_id() -> str:
    """A tool-use id in Anthropic's style, ``toolu_…``."""
    return "toolu_" + secrets.token_hex(12)
