"""The output guard for personal data: an answer that carries PII the caller did not send.

The answer is scanned as it comes with ``keel.safety.pii.find_pii`` over the new text and the last
``TAIL`` characters before it, so a value split across chunks is found once it is whole (a value
longer than the tail — an e-mail address of more than 96 characters — may be missed). A value the
caller's own request carried is not a leak: when PII redaction put the caller's values back into the
answer, or the model repeats the customer's e-mail it was given, nothing fires. Those values are read
from the request only when the answer first shows a candidate, so an answer without PII costs no
scan of the request. A stream's first chunks may hold a value's beginning only, which can look like
another kind (the first 12 digits of a card number, a phone number): the guard acts on it, as a
person reading along would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .output import Finding

if TYPE_CHECKING:
    from ..types import ChatRequest
    from .output import OutputGuard

__all__ = ["PiiScanner", "request_values"]

TAIL = 96
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


class PiiScanner:
    """One answer's PII check; ``known`` gives the values the caller sent (read once, when needed).

    A value that reaches the end of the text seen so far may still grow (``jane@example.or`` before
    ``g``): it is judged when more text follows it, or at ``finish``.
    """

    __slots__ = ("_guard", "_kinds", "_known", "_pending", "_seen", "_tail", "done")

    def __init__(
        self, guard: OutputGuard, kinds: list[str] | None, known: Callable[[], frozenset[str]]
    ) -> None:
        self._guard = guard
        self._kinds = kinds
        self._known = known
        self._seen: frozenset[str] | None = None
        self._tail = ""
        self._pending: tuple[str, str] | None = None  # (kind, value) at the end of the text so far
        self.done = False

    def feed(self, text: str) -> Finding | None:
        if self.done or not text:
            return None
        from ..safety.pii import find_pii  # the detectors load on first use

        tail = self._tail
        hay = tail + text
        self._tail = hay[-TAIL:]
        self._pending = None
        for span in find_pii(hay, self._kinds):
            if span.end < len(tail):
                continue  # judged in an earlier piece
            value = hay[span.start : span.end]
            if span.end == len(hay):
                self._pending = (span.kind, value)
                continue
            if (finding := self._judge(span.kind, value)) is not None:
                return finding
        return None

    def finish(self) -> Finding | None:
        """The end of one text (an answer, a tool call's arguments): a value at its very end is whole."""
        pending, self._pending, self._tail = self._pending, None, ""
        if self.done or pending is None:
            return None
        return self._judge(*pending)

    def _judge(self, kind: str, value: str) -> Finding | None:
        if self._seen is None:
            self._seen = self._known()
        if normalized(kind, value) in self._seen:
            return None
        self.done = True
        guard = self._guard
        return Finding(guard.name, guard.kind, guard.mode, f"the answer carries personal data ({kind})")


def request_values(request: ChatRequest, kinds: Iterable[str] | None) -> frozenset[str]:
    """The personal data in ``request`` (its messages' text, tool-call arguments and ``user``),
    normalized as ``normalized`` does."""
    from ..safety.pii import find_pii

    texts = [request.user or ""]
    for message in request.messages:
        texts.append(message.text())
        for call in message.tool_calls or ():
            texts.append(call.function.arguments or "")
    wanted = list(kinds) if kinds is not None else None
    return frozenset(
        normalized(span.kind, text[span.start : span.end])
        for text in texts
        for span in find_pii(text, wanted)
    )


def normalized(kind: str, value: str) -> str:
    """One spelling of a value, whatever its layout: numbers without separators, any case."""
    if kind in ("card", "phone", "iban", "national_id"):
        return f"{kind}:{_NOT_ALNUM.sub('', value).upper()}"
    return f"{kind}:{value.lower()}"
