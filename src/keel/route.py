"""Routes and cascades: one provider deployment of one model, and the ordered tiers a model name maps to."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .providers.base import Provider

__all__ = ["Capabilities", "Cascade", "Route", "Tier", "Timeouts"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per phase of an attempt, and for the whole call."""

    connect: float = 5.0
    first_token: float = 30.0
    idle: float = 30.0
    attempt: float = 120.0
    total: float = 300.0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a deployment can do; from its provider profile, overridable in config."""

    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_prefill: bool = False
    supports_json_schema: bool = True
    native_structured_output: bool = False  # Anthropic: output_config.format rather than a forced tool
    compact_grammar: bool = False
    """The in-process llama.cpp: a JSON schema goes as an llguidance grammar without free whitespace."""
    schema_grammar: bool = False
    """The route turns a JSON schema into a grammar (llama.cpp): it is sent a bounded copy
    (``structured.bounded_schema``), and JSON mode for a schema it cannot compile."""
    supports_tools: bool = True
    supports_stream_usage: bool = True


@dataclass(eq=False)
class Route:
    """One deployment: a provider, the model it is asked for there, and how much traffic it takes."""

    name: str
    provider: Provider
    upstream_model: str
    weight: float = 1.0
    capabilities: Capabilities = field(default_factory=Capabilities)
    timeouts: Timeouts = field(default_factory=Timeouts)

    def __repr__(self) -> str:
        return f"Route({self.name!r})"


@dataclass(eq=False)
class Tier:
    """Deployments that share traffic by weight; the next tier is the fallback."""

    routes: list[Route]

    def order(self, rng: random.Random, usable: Callable[[Route], bool]) -> Iterator[Route]:
        """Usable routes in a weighted-random order; ``usable`` is asked again before each pick."""
        if len(self.routes) == 1:
            if usable(self.routes[0]):
                yield self.routes[0]
            return
        pool = list(self.routes)
        while pool:
            pool = [route for route in pool if usable(route)]
            if not pool:
                return
            pick = rng.choices(pool, weights=[max(route.weight, 0.0) or 1e-9 for route in pool])[0]
            pool.remove(pick)
            yield pick


@dataclass(eq=False)
class Cascade:
    """A model name clients use, mapped to tiers tried in order."""

    name: str
    tiers: list[Tier]

    def routes(self) -> Iterator[Route]:
        for tier in self.tiers:
            yield from tier.routes
