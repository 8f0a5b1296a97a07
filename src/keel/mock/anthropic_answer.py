"""The mock's deterministic answer to a Messages request: thinking, then text or one tool use, and usage."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from ..formats.anthropic_structured import native_schema
from .answer import DEFAULT_TOKENS, after_prefill, answer_words, continue_prefill, split_pieces
from .anthropic_wire import usage
from .json_faults import ANSWER_SCHEMA, REFUSAL_TEXT, faulty_json
from .sample import sample
from .spec import Spec
from .wire import new_id

__all__ = ["DEFAULT_THINKING", "AnthropicAnswer", "plan_anthropic_answer", "prompt_tokens"]

DEFAULT_THINKING = 3


@dataclass(frozen=True)
class AnthropicAnswer:
    """What a healthy reply says: thinking pieces, then text pieces or one tool use's JSON pieces."""

    pieces: tuple[str, ...]
    stop_reason: str
    usage: dict[str, Any]
    thinking: tuple[str, ...] = ()
    signature: str = ""
    tool_name: str | None = None
    tool_id: str | None = None

    @property
    def text(self) -> str:
        """The whole text (or tool input JSON) the pieces add up to."""
        return "".join(self.pieces)

    def content(self) -> list[dict[str, Any]]:
        """The non-streaming ``content`` blocks."""
        blocks: list[dict[str, Any]] = []
        if self.thinking:
            blocks.append(
                {"type": "thinking", "thinking": "".join(self.thinking), "signature": self.signature}
            )
        if self.tool_name is None:
            blocks.append({"type": "text", "text": self.text})
        else:
            blocks.append(self.first_block() | {"input": json.loads(self.text)})
        return blocks

    def as_message(self) -> AnthropicAnswer:
        """This answer as a whole ``Message`` can carry it: tool input that is no JSON object (a mangled
        one) cannot be a ``tool_use`` block's ``input``, so it becomes a text block instead."""
        if self.tool_name is None or _is_object(self.text):
            return self
        stop = "end_turn" if self.stop_reason == "tool_use" else self.stop_reason
        counted = {**self.usage, "output_tokens": self.usage["output_tokens"] - 1}  # no tool use now
        return replace(self, stop_reason=stop, usage=counted, tool_name=None, tool_id=None)

    def first_block(self) -> dict[str, Any]:
        """The answer block as ``content_block_start`` opens it: empty text, or the tool use with ``{}``."""
        if self.tool_name is None:
            return {"type": "text", "text": ""}
        return {"type": "tool_use", "id": self.tool_id, "name": self.tool_name, "input": {}}

    def delta(self, piece: str) -> dict[str, Any]:
        """The ``content_block_delta`` delta for one piece of the answer block."""
        if self.tool_name is None:
            return {"type": "text_delta", "text": piece}
        return {"type": "input_json_delta", "partial_json": piece}


def prompt_tokens(body: dict[str, Any]) -> int:
    """Whitespace-separated words in the system prompt and messages' text (at least 1)."""
    words = sum(len(text.split()) for text in _texts(body.get("system")))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            words += sum(len(text.split()) for text in _texts(message.get("content")))
    return max(1, words)


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block, dict) and block.get("type") == "tool_result":
            texts += _texts(block.get("content"))
    return texts


def _prefill(body: dict[str, Any]) -> str | None:
    """The text of a trailing assistant turn (a prefill to continue), if the conversation ends in one."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    return "".join(_texts(last.get("content"))) if last.get("role") == "assistant" else None


def plan_anthropic_answer(body: dict[str, Any], spec: Spec, shape: str | None = None) -> AnthropicAnswer:
    """The answer for ``body``: ``tokens`` words (the rest of them after a prefill that begins them) or
    a tool use when tools are given, after thinking when ``thinking`` is enabled; usage split into
    uncached input, cache reads and cache writes.

    ``shape`` is a structured-output behaviour (``json-fenced``, ..., ``refusal``) that mangles the
    JSON (without tools, ``{"answer": "<words>"}`` as text), or ``"json"`` for that JSON unmangled.
    """
    count = spec.integer("tokens", DEFAULT_TOKENS) or 0
    words = answer_words(spec, count, body)
    fault = None if shape == "json" else shape
    tool = None if shape == "refusal" else _chosen_tool(body)
    native = native_schema(body)
    if shape == "refusal":
        pieces = split_pieces(REFUSAL_TEXT)
    elif tool is not None:
        schema = tool.get("input_schema") or {}
        pieces = split_pieces(faulty_json(fault, sample(schema, words or "token0"), schema))
    elif native is not None:  # output_config.format: the sample of its schema as the text
        pieces = split_pieces(faulty_json(fault, sample(native, words or "token0"), native))
    elif shape is not None:
        text = faulty_json(fault, {"answer": words}, ANSWER_SCHEMA)
        pieces = split_pieces(continue_prefill(text, _prefill(body)))
    else:
        pieces = split_pieces(
            after_prefill(words, _prefill(body)), trailing_space=spec.flag("trailing_space")
        )
    stop = {"refusal": "refusal", "json-truncated": "max_tokens"}.get(shape or "")
    stop = stop or ("tool_use" if tool is not None else "end_turn")
    limit = body.get("max_tokens")
    if tool is None and isinstance(limit, int) and 0 < limit < len(pieces):
        pieces, stop = pieces[:limit], "max_tokens"
    thinking: list[str] = []
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        thought = spec.integer("reasoning_tokens", DEFAULT_THINKING) or DEFAULT_THINKING
        thinking = split_pieces(" ".join(f"thought{i}" for i in range(thought)))
    prompt = prompt_tokens(body)
    cached = min(prompt, spec.integer("cached_tokens", 0) or 0)
    written = min(prompt - cached, spec.integer("cache_write_tokens", 0) or 0)
    output = len(pieces) + (1 if tool is not None else 0) + len(thinking)
    return AnthropicAnswer(
        pieces=tuple(pieces),
        stop_reason=stop,
        usage=usage(
            input_tokens=prompt - cached - written,
            output_tokens=output,
            cache_read=cached,
            cache_write=written,
            thinking=len(thinking),
        ),
        thinking=tuple(thinking),
        signature=new_id("sig_") if thinking else "",
        tool_name=tool.get("name", "tool") if tool is not None else None,
        tool_id=new_id("toolu_") if tool is not None else None,
    )


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict) and "input_schema" in tool]
    raw = body.get("tool_choice")
    choice: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if not tools or choice.get("type") == "none":
        return None
    if choice.get("type") == "tool":
        return next((tool for tool in tools if tool.get("name") == choice.get("name")), tools[0])
    return tools[0]
