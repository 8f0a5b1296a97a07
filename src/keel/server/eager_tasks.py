"""Start aiohttp's request-body writer at once on Python 3.11, as asyncio does from 3.12.

aiohttp sends a request's body from a task of its own. From Python 3.12 it creates that task with
``eager_start=True``, so the body goes out before ``session.post`` first suspends; on 3.11 the task
is only queued, and the body waits behind everything already ready on the loop. Under a burst of
requests that wait is what holds the burst together: every upstream request of the burst leaves
only once the whole burst has been handled, their answers come back together, and the next burst is
as large (docs/decisions/0007-eager-body-writes.md has the measurement).

``install`` puts a task factory on the running loop that runs the first step of the coroutines named
in ``EAGER`` synchronously, in the task's own context, and hands the rest to an ordinary task. Every
other coroutine gets an ordinary task. On 3.12 and later it does nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import types
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["EAGER", "eager_factory", "install"]

EAGER = frozenset({"ClientRequest.write_bytes"})
"""Qualified names of the coroutines started eagerly."""


def install(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """Use ``eager_factory`` on ``loop`` (the running loop by default) unless it has a factory or
    Python starts aiohttp's writer eagerly itself. True if installed."""
    if sys.version_info >= (3, 12):
        return False
    loop = loop or asyncio.get_running_loop()
    if loop.get_task_factory() is not None:
        return False
    loop.set_task_factory(eager_factory)
    return True


def eager_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
    **kwargs: Any,
) -> asyncio.Future[Any]:
    """A task for ``coro``; for the coroutines in ``EAGER``, after running its first step now."""
    if getattr(coro, "__qualname__", None) not in EAGER:
        return asyncio.Task(coro, loop=loop, **kwargs)
    context = kwargs.pop("context", None) or contextvars.copy_context()
    try:
        yielded = context.run(coro.send, None)
    except StopIteration as stop:  # finished without suspending: a done future, like an eager task
        done = loop.create_future()
        done.set_result(stop.value)
        return done
    except BaseException as error:
        failed = loop.create_future()
        failed.set_exception(error)
        return failed
    return asyncio.Task(_resume(coro, yielded), loop=loop, context=context, **kwargs)


@types.coroutine
def _resume(coro: Any, yielded: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine that has run its first step and yielded ``yielded`` to its task."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as error:
            try:
                yielded = coro.throw(error)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(sent)
        except StopIteration as stop:
            return stop.value
