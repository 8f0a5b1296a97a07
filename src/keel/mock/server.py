"""``MockServer``: start and stop the fake provider, in the running loop or in a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from aiohttp import web

from .app import build_app
from .attempts import AttemptLog
from .state import MockState
from .timings import FAST, REALISTIC

__all__ = ["MockServer", "run"]

_SHUTDOWN_S = 0.5
_BACKLOG = 1024


class MockServer:
    """A fault-injecting fake OpenAI Chat Completions and Anthropic Messages server on loopback.

    The requested model name picks the behaviour (``ok``, ``rate-limit:retry_after=2``, …); every
    request is recorded and can be read back with ``attempts()``.

    Args:
        host: interface to bind.
        port: port to bind; 0 picks a free one (read ``port`` or ``base_url`` after start).
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        realistic: provider-like default delays (20 ms per token, 200 ms to first token) instead of none.
        max_attempts: how many of the newest attempt records to keep.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        realistic: bool = False,
        *,
        max_attempts: int = 10_000,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.realistic = realistic
        self.base_url: str | None = None
        self._log = AttemptLog(limit=max_attempts)
        self._state: MockState | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Start serving in the running event loop; returns the base URL (``http://host:port/v1``)."""
        if self._runner is not None:
            raise RuntimeError("MockServer is already running")
        self._state = MockState(
            log=self._log, timings=REALISTIC if self.realistic else FAST, api_key=self.api_key
        )
        runner = web.AppRunner(
            build_app(self._state),
            handle_signals=False,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=_SHUTDOWN_S,
        )
        await runner.setup()
        try:
            # A deep accept queue: a burst of new connections (200 concurrent calls in a test) must
            # not overflow aiohttp's default of 128, or dropped handshakes come back after the
            # kernel's 1 s retry — a connect timeout the mock never meant to inject.
            site = web.TCPSite(runner, self.host, self.port, backlog=_BACKLOG)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{self.port}/v1"
        return self.base_url

    async def stop(self) -> None:
        """Stop at once: replies still going (hanging, stalled) are cancelled, not awaited."""
        runner, state = self._runner, self._state
        if runner is None or state is None:
            return
        self._runner = None
        state.closing = True
        tasks = [task for task in state.tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_SHUTDOWN_S)
        await runner.cleanup()

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        """``async with server.serve() as base_url:`` — serve in the running loop for the block."""
        base_url = await self.start()
        try:
            yield base_url
        finally:
            await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[str]:
        """``with server.run_in_thread() as base_url:`` — serve from a thread with its own loop."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as error:
                failure.append(error)
                return
            finally:
                started.set()
            loop.run_forever()

        thread = threading.Thread(target=main, name="keel-mock", daemon=True)
        thread.start()
        started.wait()
        try:
            if failure:
                raise failure[0]
            assert self.base_url is not None
            yield self.base_url
        finally:
            if not failure:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result()
                loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def attempts(self, model: str | None = None, behaviour: str | None = None) -> list[dict[str, Any]]:
        """A snapshot of the requests received, oldest first; filter by exact model name or behaviour."""
        return self._log.snapshot(model=model, behaviour=behaviour)

    def reset(self) -> None:
        """Forget the recorded attempts and every behaviour's counters (``times``, ``flap``)."""
        self._log.clear()


def run(
    host: str = "127.0.0.1", port: int = 8090, api_key: str | None = None, realistic: bool = True
) -> None:
    """Serve until interrupted (``keel mock``), printing the base URL once listening."""

    async def main() -> None:
        server = MockServer(host=host, port=port, api_key=api_key, realistic=realistic)
        async with server.serve() as base_url:
            print(f"keel mock: OpenAI-compatible fake provider at {base_url}", flush=True)
            print(
                "pick a behaviour with the model name, e.g. ok, rate-limit:retry_after=2, cut:after=3",
                flush=True,
            )
            print(f"Anthropic Messages at {base_url.removesuffix('/v1')}/v1/messages", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
