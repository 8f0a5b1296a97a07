"""``ContentCapture``: a call's prompt and answer, redacted and bounded, for its ledger record and span.

Off by default (``capture.content``); when off nothing here runs. When on, the call's one ledger
record carries ``content`` — the request's system text and messages and the answer's text, refusal
and tool calls, in the shapes of the GenAI semantic conventions' ``gen_ai.system_instructions``,
``gen_ai.input.messages`` and ``gen_ai.output.messages`` — and the call's span those three
attributes when it is traced. Every text passes through ``keel.safety.pii.redact`` (every kind of
personal data, and keys) before it is kept, and each side (the request, the answer) keeps at most
``max_chars`` characters. It is made once, with the record: a stream's answer is what it assembled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..safety.pii import redact

if TYPE_CHECKING:
    from ..call import Call
    from ..config import CaptureConfig
    from ..types import ChatResponse, Message

__all__ = ["ContentCapture"]

# Text past the bound that is redacted with it, so a finding the bound cuts through is still found
# whole (the longest kinds — an e-mail address, an IBAN — are shorter) and then cut away.
_MARGIN = 512
_UNFINISHED_KEY = "-----BEGIN"  # a private key block longer than the margin: its start is cut too
_SYSTEM_ROLES = ("system", "developer")


class _Bound:
    """What is left of one side's ``max_chars``; redacts each text it lets through."""

    __slots__ = ("left", "truncated")

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.truncated = False

    def text(self, raw: str) -> str:
        if self.left <= 0:
            self.truncated = self.truncated or bool(raw)
            return ""
        if len(raw) <= self.left:
            kept = redact(raw)
        else:
            self.truncated = True
            kept = redact(raw[: self.left + _MARGIN])[: self.left]
            if _UNFINISHED_KEY in kept:
                kept = kept[: kept.index(_UNFINISHED_KEY)]
        kept = kept[: self.left]  # a placeholder may be longer than what it replaced
        self.left -= len(kept)
        return kept

    @property
    def spent(self) -> bool:
        return self.left <= 0


class ContentCapture:
    """Makes a call's ``content`` (``capture(call, response)``) as ``settings`` bound it."""

    def __init__(self, settings: CaptureConfig) -> None:
        self.max_chars = settings.max_chars

    def __call__(self, call: Call, response: ChatResponse | None) -> dict[str, Any]:
        """The call's request and answer (None when there was none), redacted and bounded."""
        asked = _Bound(self.max_chars)
        system: list[dict[str, Any]] = []
        messages: list[dict[str, Any]] = []
        for message in call.request.messages:
            if asked.spent:
                asked.truncated = True
                break
            parts = _parts(message, asked)
            if message.role in _SYSTEM_ROLES:
                system.extend(parts)
            else:
                messages.append({"role": message.role, "parts": parts})
        content: dict[str, Any] = {"system": system, "input": messages, "output": None}
        if response is not None:
            answered = _Bound(self.max_chars)
            content["output"] = [
                {
                    "role": choice.message.role,
                    "parts": _parts(choice.message, answered),
                    "finish_reason": choice.finish_reason,
                }
                for choice in response.choices
            ]
            asked.truncated = asked.truncated or answered.truncated
        content["truncated"] = asked.truncated
        return content


def _parts(message: Message, bound: _Bound) -> list[dict[str, Any]]:
    """One message's parts: its text, refusal, tool calls (name and arguments) or tool result."""
    parts: list[dict[str, Any]] = []
    content = message.content
    texts = [content] if isinstance(content, str) else [p.text for p in content or () if p.text is not None]
    if message.role == "tool":
        response = bound.text("".join(texts))
        parts.append({"type": "tool_call_response", "id": message.tool_call_id, "response": response})
    else:
        parts.extend({"type": "text", "content": bound.text(text)} for text in texts if text)
        if isinstance(content, list):  # images, audio, files: their kind, never their data
            parts.extend({"type": p.type} for p in content if p.text is None)
    refusal = getattr(message, "refusal", None)
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "content": bound.text(refusal)})
    for call in message.tool_calls or ():
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.function.name,
                "arguments": bound.text(call.function.arguments or ""),
            }
        )
    return parts
