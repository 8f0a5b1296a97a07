"""``InjectionGuardPolicy``: turns that read as a prompt injection, flagged or refused before any call.

It scans what does not come from the operator or the model, and only what is new in this request:
the user turns and tool results after the last assistant turn, and the untrusted variables of a
rendered prompt (their spans, wherever the template put them). Earlier turns were scanned when they
were new, so a conversation's history is not scanned again on every turn; a client that writes
history it never sent through Keel (turns before an assistant turn of its own) is not scanned there,
unless ``history`` asks for every turn. The scanner is ``keel.safety.injection`` (docs/safety.md
gives its measured rates, in-sample and held out, and its cost per KB). ``flag`` records the finding
(ledger ``guards``, ``x-keel-guard: injection=flag``) and sends; ``block`` refuses with
``prompt_injection_detected``, naming the rules that fired, never the text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..errors import PromptInjectionError
from ..guards import Finding

if TYPE_CHECKING:
    from ..call import Call
    from ..config import InjectionGuardConfig
    from ..reply import Reply
    from .base import Handler

__all__ = ["InjectionGuardPolicy"]

_SCANNED_ROLES = frozenset({"user", "tool", "function"})


class InjectionGuardPolicy:
    """``guards.injection`` on the calls it matches (by model, key and team)."""

    def __init__(self, settings: InjectionGuardConfig) -> None:
        assert settings.mode != "off"
        self.mode: Literal["flag", "block"] = settings.mode
        self.threshold = settings.threshold
        self.match = settings.match
        self.history = settings.history

    async def __call__(self, call: Call, call_next: Handler) -> Reply:
        if not self.match.applies_to(call):
            return await call_next(call)
        from ..safety.injection import scan  # the rules load on first use

        worst: Any = None
        for text in _untrusted_texts(call, self.history):
            found = scan(text, self.threshold)
            if found.flagged and (worst is None or found.score > worst.score):
                worst = found
        if worst is None:
            return await call_next(call)
        reasons = list(worst.reasons[:5])
        call.options.setdefault("guards", []).append(
            Finding(
                "injection",
                "injection",
                self.mode,
                f"the request reads as a prompt injection: {', '.join(reasons)}",
            )
        )
        if self.mode == "block":
            raise PromptInjectionError(
                f"a turn of the request reads as a prompt injection (score {worst.score:.2f}; "
                f"{', '.join(reasons)}); nothing was sent",
                reasons=reasons,
                score=worst.score,
            )
        return await call_next(call)


def _untrusted_texts(call: Call, history: bool = False) -> list[str]:
    """The user turns and tool results after the last assistant turn (every one with ``history``),
    and a rendered prompt's untrusted spans."""
    messages = call.request.messages
    new = 0
    if not history:
        new = next((i + 1 for i in range(len(messages) - 1, -1, -1) if messages[i].role == "assistant"), 0)
    texts = [message.text() for message in messages[new:] if message.role in _SCANNED_ROLES]
    for span in call.options.get("prompt_untrusted") or ():
        index = span.get("message")
        if isinstance(index, int) and 0 <= index < len(messages):
            texts.append(messages[index].text()[span["start"] : span["end"]])
    return [text for text in texts if text]
