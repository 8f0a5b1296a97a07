"""The behaviour catalogue: which reply each behaviour name gives, and when it is healthy again.

Every behaviour answers in the wire format the request came in (``Exchange.format``): OpenAI's
shapes and statuses, or Anthropic's (where the overloaded reply is a 529, not a 503).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from types import ModuleType

import orjson
from aiohttp import web

from . import anthropic_statuses, statuses
from .answer import plan_answer
from .anthropic_reply import anthropic_reply
from .exchange import Exchange
from .json_faults import STRUCTURED
from .json_reply import json_reply
from .stream_reply import stream_reply

__all__ = ["respond"]

Behaviour = Callable[[Exchange], Awaitable[web.StreamResponse]]

# How many requests a fault hits before the model name answers healthily; None is "every one".
_DEFAULT_TIMES: dict[str, int | None] = {"error-500": 1, **STRUCTURED}
# These decide by the request or the clock, not by a count.
_UNCOUNTED = {"ok", "no-prefill", "no-grammar", "flap"}
_DEFAULT_AFTER = {"cut": 5, "stall": 5, "malformed": 2}


async def respond(ex: Exchange) -> web.StreamResponse:
    """Answer as the model name's behaviour says; past its ``times``, answer healthily."""
    ex.spec.check()
    name = ex.spec.behaviour
    count = ex.state.log.count(ex.spec.model)
    if name not in _UNCOUNTED:
        times = ex.spec.integer("times", _DEFAULT_TIMES.get(name))
        if times is not None and count > times:
            # A structured-output behaviour then answers the JSON it would have mangled.
            name = "json" if name in STRUCTURED else "ok"
    return await _CATALOGUE[name](ex)


def _statuses(ex: Exchange) -> ModuleType:
    """The error replies of the request's wire format (the two modules have the same functions)."""
    return anthropic_statuses if ex.format == "anthropic" else statuses


def _overloaded_outcome(ex: Exchange) -> str:
    return "529" if ex.format == "anthropic" else "503"


async def _answer(
    ex: Exchange, fault: str | None = None, *, early_headers: bool = False, shape: str | None = None
) -> web.StreamResponse:
    after = ex.spec.integer("after", _DEFAULT_AFTER.get(fault or "", 0)) or 0
    if ex.format == "anthropic":
        return await anthropic_reply(ex, fault, after=after, early_headers=early_headers, shape=shape)
    answer = plan_answer(ex.body, ex.spec, shape)
    if not ex.stream:
        return await json_reply(ex, answer, fault=None if fault == "no_done" else fault)
    return await stream_reply(ex, answer, fault=fault, after=after, early_headers=early_headers)


async def _error(ex: Exchange, reply: web.Response, outcome: str) -> web.StreamResponse:
    if ex.spec.flag("quote"):
        reply = _quoting(reply, ex)
    await ex.pause(ex.ttft_ms)
    ex.finish(outcome)
    return reply


def _quoting(reply: web.Response, ex: Exchange) -> web.Response:
    """``reply`` with its error message quoting the request's last message, as a provider's
    validation error quotes what it refused (both formats keep the message at ``error.message``)."""
    body = orjson.loads(reply.body)  # type: ignore[arg-type]
    messages = [m for m in ex.body.get("messages") or [] if isinstance(m, dict)]
    content = messages[-1].get("content") if messages else None
    quoted = content if isinstance(content, str) else orjson.dumps(content).decode()
    body["error"]["message"] += f" Offending input: {quoted!r}"
    reply.body = orjson.dumps(body)
    return reply


async def _ok(ex: Exchange) -> web.StreamResponse:
    return await _answer(ex)


async def _slow_first_token(ex: Exchange) -> web.StreamResponse:
    ex.ttft_default = ex.state.timings.slow_ttft_ms
    return await _answer(ex, early_headers=True)


async def _rate_limit(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).rate_limited(ex), "429")


async def _error_500(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).server_error(ex), "500")


async def _error_503(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).unavailable(ex), _overloaded_outcome(ex))


async def _reset(ex: Exchange) -> web.StreamResponse:
    await ex.pause(ex.ttft_ms)
    ex.finish("reset")
    return ex.abort(reset=True)


async def _hang(ex: Exchange) -> web.StreamResponse:
    return await ex.hold(ex.ms("hang_ms", ex.state.timings.hang_ms), "hang", on_close="client_closed")


async def _cut(ex: Exchange) -> web.StreamResponse:
    return await _answer(ex, "cut")


async def _stall(ex: Exchange) -> web.StreamResponse:
    return await _answer(ex, "stall")


async def _malformed(ex: Exchange) -> web.StreamResponse:
    return await _answer(ex, "malformed")


async def _no_done(ex: Exchange) -> web.StreamResponse:
    if not ex.spec.flag("usage", True):
        ex.include_usage = False  # the body ends right after the finish chunk, before the usage asked for
    return await _answer(ex, "no_done")


async def _context_length(ex: Exchange) -> web.StreamResponse:
    reply = _statuses(ex).context_length(ex)
    return await _answer(ex) if reply is None else await _error(ex, reply, "400_context_length")


async def _content_policy(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).content_policy(ex), "400_content_policy")


async def _no_prefill(ex: Exchange) -> web.StreamResponse:
    reply = _statuses(ex).no_prefill(ex)
    return await _answer(ex) if reply is None else await _error(ex, reply, "400_prefill")


async def _no_grammar(ex: Exchange) -> web.StreamResponse:
    reply = _statuses(ex).no_grammar(ex)
    return await _answer(ex) if reply is None else await _error(ex, reply, "400_invalid_request")


async def _flap(ex: Exchange) -> web.StreamResponse:
    """503 for ``down_ms`` from the first request; with ``period_ms``, for the start of each period."""
    period = ex.spec.number("period_ms")
    down = ex.ms("down_ms", period / 2 if period else ex.state.timings.down_ms)
    first = ex.state.log.first_seen(ex.spec.model)
    elapsed = max(0.0, time.monotonic() - first) * 1000
    if period:
        elapsed %= period
    if elapsed < down:
        return await _error(ex, _statuses(ex).unavailable(ex), _overloaded_outcome(ex))
    return await _answer(ex)


async def _auth_error(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).auth_error(ex.headers()), "401")


async def _not_found(ex: Exchange) -> web.StreamResponse:
    return await _error(ex, _statuses(ex).not_found(ex), "404")


def _structured(shape: str) -> Behaviour:
    """A healthy 200 whose content is the JSON answer as ``shape`` mangles it (see ``json_faults``)."""

    async def behaviour(ex: Exchange) -> web.StreamResponse:
        return await _answer(ex, shape=shape)

    return behaviour


_CATALOGUE: dict[str, Behaviour] = {
    "ok": _ok,
    "rate-limit": _rate_limit,
    "error-500": _error_500,
    "error-503": _error_503,
    "overloaded": _error_503,
    "reset": _reset,
    "hang": _hang,
    "slow-first-token": _slow_first_token,
    "cut": _cut,
    "stall": _stall,
    "malformed-chunk": _malformed,
    "no-done": _no_done,
    "context-length": _context_length,
    "content-policy": _content_policy,
    "no-prefill": _no_prefill,
    "no-grammar": _no_grammar,
    "flap": _flap,
    "auth-error": _auth_error,
    "not-found": _not_found,
    "json": _structured("json"),  # not a behaviour name: what the ones below answer past ``times``
    **{name: _structured(name) for name in STRUCTURED},
}
