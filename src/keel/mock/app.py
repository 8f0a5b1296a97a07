"""The mock's aiohttp application: the OpenAI endpoints, Anthropic's ``/v1/messages``, and the
``/_mock/attempts`` record."""

from __future__ import annotations

import hmac
import time
from typing import Any

import orjson
from aiohttp import web

from .count_tokens import count_tokens
from .embeddings import embeddings
from .exchange import Exchange
from .intake import answer, take_in, tracked
from .messages import messages
from .spec import BEHAVIOURS
from .state import STATE, MockState
from .statuses import auth_error, error_reply
from .wire import new_id

__all__ = ["build_app"]

_MAX_BODY = 64 * 1024 * 1024


def build_app(state: MockState) -> web.Application:
    """An application serving the OpenAI endpoints (chat, embeddings, models) and ``/_mock/attempts``."""
    app = web.Application(client_max_size=_MAX_BODY)
    app[STATE] = state
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/_mock/attempts", get_attempts)
    app.router.add_delete("/_mock/attempts", clear_attempts)
    return app


@tracked
async def chat_completions(request: web.Request, state: MockState) -> web.StreamResponse:
    """Record the request, then answer as the behaviour its model name picks."""
    got = await take_in(request, state)
    headers = {"x-request-id": got.entry["request_id"]}

    def refuse(outcome: str, reply: web.Response) -> web.Response:
        state.log.update(got.entry, outcome=outcome, ended_at=time.monotonic())
        return reply

    if not _authorized(request, state.api_key):
        return refuse("401", auth_error(headers))
    problem = _invalid(got.body)
    if problem is not None:
        message, param, code = problem
        return refuse(
            "400_invalid_request", error_reply(400, message, "invalid_request_error", code, param, headers)
        )
    assert got.spec is not None and isinstance(got.body, dict)
    return await answer(
        Exchange(request, got.body, got.spec, got.entry, state),
        lambda message: error_reply(400, message, "invalid_request_error", None, "model", headers),
    )


async def list_models(request: web.Request) -> web.Response:
    """``GET /v1/models``: every behaviour name, as OpenAI lists models."""
    state = request.app[STATE]
    if not _authorized(request, state.api_key):
        return auth_error({"x-request-id": new_id("req_mock_")})
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "keel-mock"} for name in BEHAVIOURS]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type="application/json")


async def get_attempts(request: web.Request) -> web.Response:
    """``GET /_mock/attempts[?model=…][&behaviour=…]``: the records, oldest first."""
    log = request.app[STATE].log
    records = log.snapshot(model=request.query.get("model"), behaviour=request.query.get("behaviour"))
    return web.Response(body=orjson.dumps(records), content_type="application/json")


async def clear_attempts(request: web.Request) -> web.Response:
    """``DELETE /_mock/attempts``: forget the records and every behaviour's counters."""
    request.app[STATE].log.clear()
    return web.Response(status=204)


def _authorized(request: web.Request, api_key: str | None) -> bool:
    if api_key is None:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), api_key.encode())


def _invalid(body: Any) -> tuple[str, str | None, str | None] | None:
    """Why the body is not a chat completion request (message, param, code), or None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request. The body must be a JSON object.", None, None
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "You must provide a model parameter.", "model", None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Missing required parameter: 'messages'.", "messages", "missing_required_parameter"
    return None
