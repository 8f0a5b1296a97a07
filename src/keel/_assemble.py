"""Folds stream chunks into one response: text, refusals, tool calls, finish reasons, usage and model."""

from __future__ import annotations

from typing import Any

from .types import ChatResponse, Choice, Chunk, FunctionCall, Message, ToolCall, Usage

__all__ = ["ChunkAssembler"]


class _ChoiceParts:
    __slots__ = ("finish_reason", "reasoning", "refusal", "role", "text", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None


class ChunkAssembler:
    """Accumulates chunks; ``response()`` is what has been delivered so far."""

    def __init__(self, model: str = "") -> None:
        self.id = ""
        self.model = model
        self.created = 0
        self.usage: Usage | None = None
        self.upstream_request_id: str | None = None
        self._choices: dict[int, _ChoiceParts] = {}

    def add(self, chunk: Chunk) -> None:
        self.id = self.id or chunk.id
        self.model = chunk.model or self.model
        self.created = self.created or chunk.created
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.upstream_request_id:
            self.upstream_request_id = chunk.upstream_request_id
        for index, delta, finish_reason in chunk.deltas():
            parts = self._choices.get(index)
            if parts is None:
                parts = self._choices[index] = _ChoiceParts()
            if delta:
                role = delta.get("role")
                if role:
                    parts.role = role
                content = delta.get("content")
                if content:
                    parts.text.append(content)
                reasoning = delta.get("reasoning_content")
                if reasoning and isinstance(reasoning, str):
                    parts.reasoning.append(reasoning)  # thinking, as OpenAI-compatible servers stream it
                refusal = delta.get("refusal")
                if refusal and isinstance(refusal, str):
                    parts.refusal.append(refusal)
                for call in delta.get("tool_calls") or ():
                    self._merge_tool_call(parts, call)
            if finish_reason:
                parts.finish_reason = finish_reason

    @staticmethod
    def _merge_tool_call(parts: _ChoiceParts, call: dict[str, Any]) -> None:
        index = call.get("index")
        if index is None:
            index = len(parts.tool_calls)
        slot = parts.tool_calls.setdefault(index, {"id": None, "name": "", "arguments": []})
        slot["id"] = slot["id"] or call.get("id")
        function = call.get("function") or {}
        if function.get("name"):
            slot["name"] += function["name"]
        if function.get("arguments"):
            slot["arguments"].append(function["arguments"])

    def response(self) -> ChatResponse:
        choices = []
        for index in sorted(self._choices):
            parts = self._choices[index]
            tool_calls = [
                ToolCall(
                    id=slot["id"],
                    type="function",
                    function=FunctionCall(name=slot["name"], arguments="".join(slot["arguments"])),
                )
                for _, slot in sorted(parts.tool_calls.items())
            ]
            extra: dict[str, Any] = {"reasoning_content": "".join(parts.reasoning)} if parts.reasoning else {}
            if parts.refusal:
                extra["refusal"] = "".join(parts.refusal)
            message = Message(
                role=parts.role,
                content="".join(parts.text) if parts.text or not tool_calls else None,
                tool_calls=tool_calls or None,
                **extra,
            )
            choices.append(Choice(index=index, message=message, finish_reason=parts.finish_reason))
        return ChatResponse(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=choices,
            usage=self.usage,
            upstream_request_id=self.upstream_request_id,
        )
