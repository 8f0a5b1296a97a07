"""How every mock endpoint takes a request in: tracked for a prompt shutdown, read, and recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import orjson
from aiohttp import web

from .behaviours import respond
from .exchange import Exchange
from .spec import ParamError, Spec, parse_model
from .state import STATE, MockState
from .wire import new_id

__all__ = ["Intake", "answer", "take_in", "tracked"]

Handler = Callable[[web.Request, MockState], Awaitable[web.StreamResponse]]


def tracked(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Run ``handler`` as a task the server cancels on shutdown (hanging and stalled replies included)."""

    @wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        task = asyncio.current_task()
        if task is not None:
            state.tasks.add(task)
        try:
            return await handler(request, state)
        finally:
            if task is not None:
                state.tasks.discard(task)

    return run


class Intake:
    """A request as received: its JSON body (None when not JSON), its behaviour, its record."""

    __slots__ = ("body", "entry", "model", "spec")

    def __init__(self, body: Any, model: str | None, spec: Spec | None, entry: dict[str, Any]) -> None:
        self.body, self.model, self.spec, self.entry = body, model, spec, entry


async def take_in(request: web.Request, state: MockState, *, format: str = "openai") -> Intake:
    """Read the body and record the attempt (outcome ``pending``) before anything can go wrong."""
    body: Any
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    model = model if isinstance(model, str) and model else None
    spec = parse_model(model) if model else None
    entry = state.log.record(
        model=model,
        behaviour=spec.behaviour if spec else None,
        stream=isinstance(body, dict) and body.get("stream") is True,
        body=body,
        headers=request.headers,
        request_id=new_id("req_mock_"),
        format=format,
    )
    return Intake(body, model, spec, entry)


async def answer(ex: Exchange, bad_param: Callable[[str], web.Response]) -> web.StreamResponse:
    """The behaviour's reply; a bad model-name parameter gets ``bad_param(message)``, a client that
    leaves or a shutdown is recorded as such."""
    try:
        return await respond(ex)
    except ParamError as error:
        ex.state.log.update(ex.entry, outcome="400_invalid_request", ended_at=time.monotonic())
        return bad_param(str(error))
    except ConnectionResetError:  # a write found the client gone; aiohttp drops what it cannot send
        ex.closed_by_client()
        return web.Response()
    except asyncio.CancelledError:
        if ex.state.closing:
            ex.interrupted_by_shutdown()
        else:
            ex.closed_by_client()
        raise
