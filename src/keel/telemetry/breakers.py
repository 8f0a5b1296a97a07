"""Circuit state per route as this process sees it: the ``keel_breaker_state`` gauge and transitions.

The breaker store decides; the breaker policy tells this module what it learnt — a success closes,
a failure's snapshot may say open, a probe let through means half-open — so the gauge costs no
extra store read except after a failure. With shared state (Redis) a transition is counted by the
process that made it, and each process's gauge says what it last saw.
"""

from __future__ import annotations

from .calls import routes
from .metrics import breaker_state, breaker_transitions

__all__ = ["known_state", "note_route", "note_state"]

_VALUES: dict[str, float] = {"closed": 0, "half_open": 1, "open": 2}
_known: dict[str, str] = {}


def note_route(route: str) -> None:
    """A route in use: its gauge reads closed until a state is learnt."""
    if route not in _known:
        _known[route] = "closed"
        breaker_state.labels(route=routes(route)).set(0)


def known_state(route: str) -> str:
    return _known.get(route, "closed")


def note_state(route: str, state: str) -> None:
    """The route's circuit is in ``state``; a change is counted as a transition."""
    if _known.get(route) == state:
        return
    _known[route] = state
    breaker_state.labels(route=routes(route)).set(_VALUES[state])
    breaker_transitions.labels(route=routes(route), to=state).inc()
