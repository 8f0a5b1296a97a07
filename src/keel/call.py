"""The per-call context every policy sees: the request, one deadline, the retry allowance, the attempts.

``AttemptListener`` is how an outer policy acts on every attempt rather than once per call: the
budget policy reserves before each attempt and settles after it, whether the attempt is the first,
a retry or a fallback (DESIGN §2).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import DeadlineExceededError
from .types import Attempt, ChatRequest

if TYPE_CHECKING:
    from ._generation import Generation
    from .route import Route

__all__ = ["AttemptListener", "Call", "Deadline", "new_request_id"]


@dataclass(slots=True)
class Deadline:
    """A point on the monotonic clock by which the whole call must be done."""

    expires_at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return self.expires_at - self.clock()

    def check(self) -> float:
        """The time left; raises ``DeadlineExceededError`` when there is none."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceededError("the call's total deadline ran out")
        return left


class AttemptListener(Protocol):
    """Hooks run around every attempt; ``attempt_started`` may raise to stop the call."""

    async def attempt_started(self, call: Call, route: Route, attempt: Attempt) -> None: ...

    async def attempt_ended(self, call: Call, route: Route, attempt: Attempt) -> None: ...


def new_request_id() -> str:
    """32 random hex digits, as ``uuid4().hex`` but without a system call: an id to match calls by,
    not a secret (the ``random`` module reseeds itself in each forked worker)."""
    return f"{random.getrandbits(128):032x}"


@dataclass(eq=False)
class Call:
    """One caller's request on its way through the stack."""

    request: ChatRequest
    deadline: Deadline
    stream: bool = False
    retries_left: int = 4
    request_id: str = field(default_factory=new_request_id)
    attempts: list[Attempt] = field(default_factory=list)
    listeners: list[AttemptListener] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None  # monotonic; when a stream passed its commit point
    generation: Generation | None = None  # the config it runs on (``Gateway.new_call`` sets it)
    attempt_reason: str = "first"  # why the next attempt is made: first, retry, fallback, continuation, reask
