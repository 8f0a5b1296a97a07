"""What one running mock server shares with its request handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .attempts import AttemptLog
from .timings import Timings

__all__ = ["STATE", "MockState"]


@dataclass
class MockState:
    """The attempt log, the configuration, and the handlers in flight (cancelled at shutdown)."""

    log: AttemptLog
    timings: Timings
    api_key: str | None = None
    closing: bool = False
    tasks: set[asyncio.Task[object]] = field(default_factory=set)


STATE = web.AppKey("keel_mock_state", MockState)
