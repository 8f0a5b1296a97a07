"""The error behaviours of the mock's one-shot endpoints (embeddings, token counting), in the wire
format of the exchange: ``rate-limit``, ``error-500``, ``error-503``/``overloaded``, ``auth-error``
and ``not-found``."""

from __future__ import annotations

from aiohttp import web

from . import anthropic_statuses, statuses
from .exchange import Exchange

__all__ = ["ONE_SHOT_FAULTS", "fault_reply"]

ONE_SHOT_FAULTS = frozenset({"rate-limit", "error-500", "error-503", "overloaded", "auth-error", "not-found"})


def fault_reply(ex: Exchange) -> web.Response | None:
    """The reply of ``ex``'s fault behaviour, recorded as its outcome; None when the behaviour
    answers normally (not one of ``ONE_SHOT_FAULTS``, or past its ``times``)."""
    name, times = ex.spec.behaviour, ex.spec.integer("times")
    if name not in ONE_SHOT_FAULTS or (times is not None and ex.state.log.count(ex.spec.model) > times):
        return None
    anthropic = ex.format == "anthropic"
    replies = anthropic_statuses if anthropic else statuses
    if name == "rate-limit":
        reply, outcome = replies.rate_limited(ex), "429"
    elif name == "error-500":
        reply, outcome = replies.server_error(ex), "500"
    elif name in ("error-503", "overloaded"):
        reply, outcome = replies.unavailable(ex), "529" if anthropic else "503"
    elif name == "auth-error":
        reply, outcome = replies.auth_error(ex.headers()), "401"
    else:
        reply, outcome = replies.not_found(ex), "404"
    ex.finish(outcome)
    return reply
