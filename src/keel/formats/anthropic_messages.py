"""Conversations between the formats: OpenAI messages ⇄ Anthropic ``system`` plus alternating turns.

OpenAI puts system prompts, tool calls and tool results in the message list; Anthropic takes the
system prompt apart, tool calls as ``tool_use`` blocks of the assistant turn, and tool results as
``tool_result`` blocks at the head of the next user turn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..errors import RequestError
from ..types import Message
from .anthropic_content import parts_from_blocks, text_of_blocks, to_blocks

__all__ = ["from_anthropic_messages", "to_anthropic_messages"]

_SYSTEM_ROLES = ("system", "developer")


def to_anthropic_messages(messages: Iterable[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system blocks, turns)``: system and developer messages hoisted, same-role turns merged.

    Raises:
        RequestError: a part Anthropic cannot take, tool-call arguments that are not a JSON object,
            or a role it does not know.
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in _SYSTEM_ROLES:
            system.extend(to_blocks(message.content))
            continue
        role, blocks = _turn(message)
        if not blocks and role == "assistant":
            continue  # Anthropic refuses an empty assistant turn; it says nothing anyway
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":  # tool results must open the turn that answers the tool calls
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
        turn["content"] = _compact(turn["content"])
    return system, turns


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "user":
        return "user", to_blocks(message.content)
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        blocks = to_blocks(message.content)
        if blocks:
            result["content"] = blocks
        return "user", [result]
    if message.role == "assistant":
        extra = message.model_extra or {}
        blocks = [dict(block) for block in extra.get("thinking_blocks") or ()]
        blocks += to_blocks(message.content)
        blocks += [
            _tool_use(call.id, call.function.name, call.function.arguments)
            for call in message.tool_calls or ()
        ]
        return "assistant", blocks
    raise RequestError(f"an Anthropic route cannot take a message with role {message.role!r}")


def _tool_use(call_id: str | None, name: str | None, arguments: str | None) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise RequestError(
            f"the arguments of tool call {call_id!r} must be a JSON object for an Anthropic route"
        )
    return {"type": "tool_use", "id": call_id or "", "name": name or "", "input": value}


def _compact(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """One plain text block is sent as a string, as a client would write it."""
    if len(blocks) == 1 and set(blocks[0]) == {"type", "text"} and blocks[0]["type"] == "text":
        return str(blocks[0]["text"])
    return blocks


def from_anthropic_messages(system: Any, messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages for an Anthropic conversation; thinking blocks are left out.

    Raises:
        RequestError: a block with no OpenAI equivalent, or a malformed message.
    """
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": text_of_blocks(system)})
    for message in messages:
        if not isinstance(message, dict):
            raise RequestError("each message must be an object with a role and content")
        role, content = message.get("role"), message.get("content")
        if role == "system":
            out.append({"role": "system", "content": text_of_blocks(content)})
        elif role == "user":
            turns = _user(content)
            if message.get("untrusted") is not None:  # the caller's mark for spotlighting
                turns = [{**turn, "untrusted": message["untrusted"]} for turn in turns]
            out.extend(turns)
        elif role == "assistant":
            out.append(_assistant(content))
        else:
            raise RequestError(f"unknown message role {role!r}")
    return out


def _user(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"role": "user", "content": content if isinstance(content, str) else ""}]
    results = [block for block in content if block.get("type") == "tool_result"]
    rest = [block for block in content if block.get("type") != "tool_result"]
    out = [
        {
            "role": "tool",
            "tool_call_id": block.get("tool_use_id"),
            "content": text_of_blocks(block.get("content")),
        }
        for block in results
    ]
    if rest or not results:
        out.append({"role": "user", "content": parts_from_blocks(rest)})
    return out


def _assistant(content: Any) -> dict[str, Any]:
    if not isinstance(content, list):
        return {"role": "assistant", "content": content if isinstance(content, str) else ""}
    texts = [block for block in content if block.get("type") == "text"]
    calls = [
        {
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})},
        }
        for block in content
        if block.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text_of_blocks(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return message
