"""When an OpenAI-format stream that never sent ``data: [DONE]`` is complete: every choice finished.

Several OpenAI-compatible servers close the stream after the finish chunk (and the usage chunk)
without ``[DONE]``. The answer is whole once every choice has delivered its ``finish_reason``;
a choice without one is a cut, however the body ended.
"""

from __future__ import annotations

import aiohttp

from ..errors import MalformedResponseError
from ..telemetry.logs import get_logger
from ..types import Chunk

__all__ = ["Finishes", "closed_early"]

log = get_logger("keel.providers")


class Finishes:
    """The choices of one stream still without a ``finish_reason``, and whether usage came."""

    __slots__ = ("_open", "usage")

    def __init__(self, choices: int) -> None:
        self._open = set(range(max(choices, 1)))
        self.usage = False

    def see(self, chunk: Chunk) -> None:
        """Note the finishes and usage ``chunk`` carries."""
        if self._open:
            for index, _ in chunk.finishes():
                self._open.discard(index)
        if chunk.usage is not None:
            self.usage = True

    @property
    def complete(self) -> bool:
        """Every choice asked for has finished."""
        return not self._open

    def ended_without_done(self, route: str, request_id: str | None, *, usage_asked: bool) -> None:
        """Log, once per stream, that a complete stream ended without ``[DONE]`` (and without the
        usage chunk that was asked for, so its attempt is billed from Keel's estimate)."""
        if usage_asked and not self.usage:
            log.warning(
                "stream ended without [DONE] after every choice finished",
                route=route,
                upstream_request_id=request_id,
                usage="missing: billed from Keel's estimate",
            )
        else:
            log.info(
                "stream ended without [DONE] after every choice finished",
                route=route,
                upstream_request_id=request_id,
            )


def closed_early(error: MalformedResponseError) -> bool:
    """Whether ``error`` is the connection closing mid-body (not a malformed event)."""
    return isinstance(error.__cause__, aiohttp.ClientError | OSError)
