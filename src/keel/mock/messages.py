"""``POST /v1/messages``: the mock's Anthropic Messages endpoint, with the OpenAI side's behaviours."""

from __future__ import annotations

import hmac
import time

from aiohttp import web

from . import anthropic_statuses
from .anthropic_wire import invalid
from .exchange import Exchange
from .intake import answer, take_in, tracked
from .state import MockState

__all__ = ["authorized", "messages"]


@tracked
async def messages(request: web.Request, state: MockState) -> web.StreamResponse:
    """Record the request (``format: "anthropic"``), then answer as its model name's behaviour says."""
    got = await take_in(request, state, format="anthropic")
    headers = {"request-id": got.entry["request_id"]}

    def refuse(outcome: str, reply: web.Response) -> web.Response:
        state.log.update(got.entry, outcome=outcome, ended_at=time.monotonic())
        return reply

    if not authorized(request, state.api_key):
        return refuse("401", anthropic_statuses.auth_error(headers))
    problem = invalid(got.body)
    if problem is not None:
        return refuse(
            "400_invalid_request",
            anthropic_statuses.error_reply(400, "invalid_request_error", problem, headers),
        )
    assert got.spec is not None and isinstance(got.body, dict)
    return await answer(
        Exchange(request, got.body, got.spec, got.entry, state, format="anthropic"),
        lambda message: anthropic_statuses.error_reply(400, "invalid_request_error", message, headers),
    )


def authorized(request: web.Request, api_key: str | None) -> bool:
    """The key as ``x-api-key`` (what the API documents) or a bearer token (what SDK 2.x sends)."""
    if api_key is None:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = request.headers.get("x-api-key") or (token.strip() if scheme.lower() == "bearer" else "")
    return hmac.compare_digest(given.encode(), api_key.encode())
