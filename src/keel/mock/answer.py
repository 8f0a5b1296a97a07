"""The mock's deterministic answer to a request: text, JSON or one tool call, and its usage."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .json_faults import ANSWER_SCHEMA, REFUSAL_TEXT, faulty_json
from .sample import sample
from .spec import Spec
from .wire import new_id, usage

__all__ = [
    "Answer",
    "after_prefill",
    "answer_words",
    "continue_prefill",
    "plan_answer",
    "prompt_tokens",
    "split_pieces",
]

DEFAULT_TOKENS = 12


@dataclass(frozen=True)
class Answer:
    """What a healthy reply says: content pieces (one per stream delta) or one tool call."""

    pieces: tuple[str, ...]
    finish_reason: str
    usage: dict[str, Any]
    tool_name: str | None = None
    tool_call_id: str | None = None
    refusal: bool = False

    @property
    def text(self) -> str:
        """The whole content (or tool arguments) the pieces add up to."""
        return "".join(self.pieces)

    def message(self) -> dict[str, Any]:
        """The non-streaming ``message`` object."""
        if self.refusal:
            return {"role": "assistant", "content": None, "refusal": self.text, "annotations": []}
        if self.tool_name is None:
            return {"role": "assistant", "content": self.text, "refusal": None, "annotations": []}
        return {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "annotations": [],
            "tool_calls": [self._tool_call(self.text)],
        }

    def deltas(self) -> list[dict[str, Any]]:
        """The content-bearing stream deltas, in order (text tokens or tool-call fragments)."""
        if self.refusal:
            return [{"refusal": piece} for piece in self.pieces]
        if self.tool_name is None:
            return [{"content": piece} for piece in self.pieces]
        head = {"tool_calls": [{"index": 0, **self._tool_call("")}]}
        rest = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in self.pieces]
        return [head, *rest]

    def _tool_call(self, arguments: str) -> dict[str, Any]:
        return {
            "id": self.tool_call_id,
            "type": "function",
            "function": {"name": self.tool_name, "arguments": arguments},
        }


def prompt_tokens(body: dict[str, Any]) -> int:
    """Whitespace-separated words across the messages' text (at least 1): never above UTF-8 length."""
    words = 0
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            words += sum(len(text.split()) for text in _texts(message.get("content")))
    return max(1, words)


def plan_answer(body: dict[str, Any], spec: Spec, shape: str | None = None) -> Answer:
    """The answer for ``body``: ``tokens`` words (the rest of them after an assistant prefill that begins
    them), JSON for ``response_format``, a tool call for ``tools``.

    ``shape`` is a structured-output behaviour (``json-fenced``, ..., ``refusal``) that mangles the
    JSON (plain requests get ``{"answer": "<words>"}``), or ``"json"`` for that JSON unmangled.
    """
    count = spec.integer("tokens", DEFAULT_TOKENS) or 0
    words = answer_words(spec, count, body)
    fault = None if shape == "json" else shape
    tool = None if shape == "refusal" else _chosen_tool(body)
    if shape == "refusal":
        pieces = split_pieces(REFUSAL_TEXT)
    elif tool is not None:
        schema = tool.get("parameters") or {}
        pieces = split_pieces(faulty_json(fault, sample(schema, words or "token0"), schema))
    elif shape is not None:
        value, schema = _structured(body.get("response_format"), words)
        pieces = split_pieces(continue_prefill(faulty_json(fault, value, schema), _prefill(body)))
    elif body.get("response_format") is None:
        pieces = split_pieces(
            after_prefill(words, _prefill(body)), trailing_space=spec.flag("trailing_space")
        )
    else:
        pieces = split_pieces(_content(body.get("response_format"), words))
    finish = "tool_calls" if tool is not None else "stop"
    if shape == "json-truncated":
        finish = "length"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < len(pieces):
        pieces, finish = pieces[:limit], "length"
    prompt = prompt_tokens(body)
    reasoning = spec.integer("reasoning_tokens", 0) or 0
    cached = min(prompt, spec.integer("cached_tokens", 0) or 0)
    counted = len(pieces) + (1 if tool is not None else 0) + reasoning
    return Answer(
        pieces=tuple(pieces),
        finish_reason=finish,
        usage=usage(prompt, counted, cached=cached, reasoning=reasoning),
        tool_name=tool.get("name", "tool") if tool is not None else None,
        tool_call_id=new_id("call_") if tool is not None else None,
        refusal=shape == "refusal",
    )


def answer_words(spec: Spec, count: int, body: dict[str, Any] | None = None) -> str:
    """``token0 token1 …``; from ``forbidden_at`` on, ``forbidden<i>`` (for output guards to catch);
    at ``leak_at``, the words of the request's system text (a system-prompt leak, for canary guards)."""
    start = spec.integer("forbidden_at", count) or 0
    words = [f"token{i}" if i < start else f"forbidden{i}" for i in range(count)]
    leak = spec.integer("leak_at", None)
    if leak is not None and body is not None:
        words[leak:leak] = system_text(body).split()
    return " ".join(words)


def system_text(body: dict[str, Any]) -> str:
    """The system text of an OpenAI or Anthropic request body, joined."""
    texts = _texts(body.get("system"))
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            texts += _texts(message.get("content"))
    return " ".join(texts)


def after_prefill(words: str, prefill: str | None) -> str:
    """What is left of ``words`` after an assistant prefill that begins them; all of them otherwise.

    The prefill must end on a word boundary. Trailing whitespace on it is allowed (the rest then
    starts with the next word), so prefill + rest is always the whole answer.
    """
    head = (prefill or "").rstrip()
    if not head or not words.startswith(head):
        return words
    rest = words[len(head) :]
    if rest and not rest[0].isspace():
        return words
    return rest.lstrip() if prefill != head else rest


def continue_prefill(text: str, prefill: str | None) -> str:
    """The rest of ``text`` after an assistant prefill that begins it (``{``, say); all of it otherwise."""
    return text[len(prefill) :] if prefill and text.startswith(prefill) and text != prefill else text


def _prefill(body: dict[str, Any]) -> str | None:
    """The text of a trailing assistant message (a prefill to continue), if the request ends in one."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    return "".join(_texts(last.get("content"))) if last.get("role") == "assistant" else None


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []


def split_pieces(text: str, *, trailing_space: bool = False) -> list[str]:
    """Split into word-sized pieces whose concatenation is ``text``: the space between two words
    leads the second piece, or with ``trailing_space`` ends the first."""
    if not text.strip():
        return [text] if text else []
    pieces = re.findall(r"\s*\S+\s*" if trailing_space else r"\s*\S+", text)
    trailing = text[len(text.rstrip()) :]
    if trailing and not trailing_space:
        pieces[-1] += trailing  # whitespace at the very end (a JSON cut after a space) stays in
    return pieces


def _content(response_format: Any, words: str) -> str:
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_schema", "json_object"):
        return json.dumps(_structured(response_format, words)[0])
    return words


def _structured(response_format: Any, words: str) -> tuple[Any, Any]:
    """The JSON value a structured answer gives, and the schema it follows."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else {}
        return sample(schema, words or "token0"), schema
    return {"answer": words}, ANSWER_SCHEMA


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools: list[dict[str, Any]] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            tools.append(tool["function"])
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        return next((tool for tool in tools if tool.get("name") == wanted), tools[0])
    return tools[0]
