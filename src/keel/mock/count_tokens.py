"""``POST /v1/messages/count_tokens``: the mock's Anthropic token counter, with the error behaviours.

It answers ``{"input_tokens": N}`` with the same count a ``/v1/messages`` call of that body would
report as its input (``anthropic_answer.prompt_tokens``), so a test can check a count against the
usage of the call it predicts.
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from . import anthropic_statuses
from .anthropic_answer import prompt_tokens
from .exchange import Exchange
from .intake import take_in, tracked
from .messages import authorized
from .one_shot_faults import fault_reply
from .spec import ParamError
from .state import MockState

__all__ = ["count_tokens"]


@tracked
async def count_tokens(request: web.Request, state: MockState) -> web.Response:
    """Recorded like a Messages call (``endpoint: "count_tokens"``). The model name's ``rate-limit``,
    ``error-500``, ``overloaded``/``error-503``, ``auth-error`` and ``not-found`` answer with that
    error (honouring ``times``); any other behaviour counts."""
    got = await take_in(request, state, format="anthropic")
    state.log.update(got.entry, endpoint="count_tokens")
    headers = {"request-id": got.entry["request_id"]}

    def refuse(outcome: str, reply: web.Response) -> web.Response:
        state.log.update(got.entry, outcome=outcome, ended_at=time.monotonic())
        return reply

    if not authorized(request, state.api_key):
        return refuse("401", anthropic_statuses.auth_error(headers))
    body = got.body
    problem = None
    if not isinstance(body, dict):
        problem = "There was an error parsing the body of your request as JSON."
    elif got.spec is None:
        problem = "model: Field required"
    elif not isinstance(body.get("messages"), list) or not body["messages"]:
        problem = "messages: Field required"
    if problem is not None:
        return refuse(
            "400_invalid_request",
            anthropic_statuses.error_reply(400, "invalid_request_error", problem, headers),
        )
    assert got.spec is not None and isinstance(body, dict)
    ex = Exchange(request, body, got.spec, got.entry, state, format="anthropic")
    try:
        got.spec.check()
    except ParamError as error:
        ex.finish("400_invalid_request")
        return anthropic_statuses.error_reply(400, "invalid_request_error", str(error), headers)
    fault = fault_reply(ex)
    if fault is not None:
        return fault
    ex.finish("ok")
    payload = {"input_tokens": prompt_tokens(body)}
    return web.Response(body=orjson.dumps(payload), content_type="application/json", headers=headers)
