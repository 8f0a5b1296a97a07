"""The canary check of one attempt's answer: complete, or on the stream as it flows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..guards.markers import CanaryScanner
from ..reply import ChunkStream
from .output_guard import GuardWatch, answer_texts

if TYPE_CHECKING:
    from ..call import Call
    from ..reply import Reply

__all__ = ["watch_canary"]


def watch_canary(call: Call, reply: Reply, canary: str, mode: str) -> Reply:
    """``reply``, checked for ``canary``: a leak is recorded (``flag``) or ends the answer with
    ``OutputGuardError`` (``block``) — a stream after the chunks before the one that completed it.

    Raises:
        OutputGuardError: a complete answer repeats the canary and the mode is ``block``.
    """
    watch = GuardWatch(call, [CanaryScanner(canary, mode)])
    if isinstance(reply, ChunkStream):
        reply.inspect(watch)
        return reply
    for text in answer_texts(reply):
        watch.feed(text)
        if watch.error is not None:
            raise watch.error
    return reply
