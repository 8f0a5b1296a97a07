"""``POST /v1/messages``: the mock's Anthropic Messages endpoint, with the OpenAI side's behaviours."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import orjson
from aiohttp import web

from . import anthropic_statuses
from .anthropic_wire import invalid
from .behaviours import respond
from .exchange import Exchange
from .spec import ParamError, parse_model
from .state import STATE, MockState
from .wire import new_id

__all__ = ["messages"]


async def messages(request: web.Request) -> web.StreamResponse:
    """Record the request (``format: "anthropic"``), then answer as its model name's behaviour says."""
    state = request.app[STATE]
    task = asyncio.current_task()
    if task is not None:
        state.tasks.add(task)
    try:
        return await _messages(request, state)
    finally:
        if task is not None:
            state.tasks.discard(task)


async def _messages(request: web.Request, state: MockState) -> web.StreamResponse:
    body: Any
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        body = None
    model = body.get("model") if isinstance(body, dict) else None
    spec = parse_model(model) if isinstance(model, str) and model else None
    entry = state.log.record(
        model=model if isinstance(model, str) else None,
        behaviour=spec.behaviour if spec else None,
        stream=isinstance(body, dict) and body.get("stream") is True,
        body=body,
        headers=request.headers,
        request_id=new_id("req_mock_"),
        format="anthropic",
    )
    headers = {"request-id": entry["request_id"]}

    def refuse(outcome: str, reply: web.Response) -> web.Response:
        state.log.update(entry, outcome=outcome, ended_at=time.monotonic())
        return reply

    if not _authorized(request, state.api_key):
        return refuse("401", anthropic_statuses.auth_error(headers))
    problem = invalid(body)
    if problem is not None:
        return refuse(
            "400_invalid_request",
            anthropic_statuses.error_reply(400, "invalid_request_error", problem, headers),
        )
    assert spec is not None and isinstance(body, dict)
    ex = Exchange(request, body, spec, entry, state, format="anthropic")
    try:
        return await respond(ex)
    except ParamError as error:
        return refuse(
            "400_invalid_request",
            anthropic_statuses.error_reply(400, "invalid_request_error", str(error), headers),
        )
    except ConnectionResetError:
        ex.closed_by_client()  # a write found the client gone
        return web.Response()
    except asyncio.CancelledError:
        if state.closing:
            ex.interrupted_by_shutdown()
        else:
            ex.closed_by_client()
        raise


def _authorized(request: web.Request, api_key: str | None) -> bool:
    """The key as ``x-api-key`` (what the API documents) or a bearer token (what SDK 2.x sends)."""
    if api_key is None:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = request.headers.get("x-api-key") or (token.strip() if scheme.lower() == "bearer" else "")
    return hmac.compare_digest(given.encode(), api_key.encode())
