"""``WorkerFanout``: a reload asked of one worker reaches every worker of the same ``keel serve``.

The asked worker applies the config itself, writes a ticket to the state store (Redis: several
workers need it), and sends SIGUSR1 to the supervisor, which sends SIGHUP to every worker. Each
worker, once it has reloaded, records its result under the ticket it finds; the asked worker waits
(a bounded time) until every worker has. Keys carry the host name and the supervisor's pid, so two
servers on one Redis do not mix, and expire after a minute.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
from typing import TYPE_CHECKING

from ..telemetry.logs import get_logger

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SUPERVISOR_ENV", "WorkerFanout"]

SUPERVISOR_ENV = "KEEL_SUPERVISOR_PID"
"""Set by the supervisor for its workers: where a worker sends its reload requests."""

_TTL_S = 60

log = get_logger("keel.reload")


class WorkerFanout:
    """One worker's end of the reload fan-out."""

    def __init__(self, state_url: str, supervisor: int, workers: int) -> None:
        from ..stores.redis import connect

        self.supervisor = supervisor
        self.workers = workers
        self._redis: Redis = connect(state_url, max_connections=4)
        self._prefix = f"keel:reload:{{{socket.gethostname()}:{supervisor}}}"

    @classmethod
    def from_environment(cls, state_url: str, workers: int) -> WorkerFanout | None:
        """The fan-out of a worker under a supervisor, else None."""
        supervisor = os.environ.get(SUPERVISOR_ENV)
        if not supervisor or workers < 2:
            return None
        return cls(state_url, int(supervisor), workers)

    async def everyone(self, own_result: str, *, wait_s: float = 10.0) -> dict[str, str]:
        """Have every worker reload; each worker's result by pid (this one's is ``own_result``),
        as many as reported within ``wait_s`` seconds."""
        ticket = secrets.token_hex(8)
        acks = f"{self._prefix}:acks:{ticket}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{self._prefix}:ticket", ticket, ex=_TTL_S)
            pipe.hset(acks, str(os.getpid()), own_result)
            pipe.expire(acks, _TTL_S)
            await pipe.execute()
        os.kill(self.supervisor, signal.SIGUSR1)
        deadline = time.monotonic() + wait_s
        while True:
            results = {str(k): str(v) for k, v in (await self._redis.hgetall(acks)).items()}
            # The asked worker answers too (it reloads again and finds nothing new): count them all.
            if len(results) >= self.workers or time.monotonic() >= deadline:
                return results
            await asyncio.sleep(0.02)

    async def report(self, result: str) -> None:
        """Record this worker's result under the current ticket, if one is open."""
        try:
            ticket = await self._redis.get(f"{self._prefix}:ticket")
            if ticket is None:
                return
            acks = f"{self._prefix}:acks:{ticket!s}"
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(acks, str(os.getpid()), result)
                pipe.expire(acks, _TTL_S)
                await pipe.execute()
        except Exception as error:  # the state store is away: the asked worker counts this one out
            log.warning("could not report a reload to the state store", error=repr(error))

    async def aclose(self) -> None:
        await self._redis.aclose()
