"""``Generation``: what one version of the config builds — providers, cascades, prices, the policy stack.

A call runs to its end on the generation it started on. A reload builds the next generation from the
new config and the previous one: a provider whose settings did not change keeps its object (and its
connection pool), the cache stores, the ledger writer and the budget alerts are kept when their
settings allow, and the process-wide parts (``Lasting``: breaker and counter stores, coalescing's
flights, the retry budget) are the same objects for every generation. The previous generation is
retired: when its last call has ended, whatever no later generation took over is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._build import build_provider, build_route, cascades_from_config
from ._cache import CacheStores, open_cache
from .errors import ConfigError, ModelNotFoundError, RequestError
from .guards import build_output_guards
from .guards.markers import Markers
from .ledger import LedgerWriter
from .policies._backoff import RetryBudget
from .policies.attempt import AttemptPolicy
from .policies.base import Handler, Policy, RoutePolicy, chain, chain_route
from .policies.breaker import BreakerPolicy
from .policies.budget import BudgetPolicy
from .policies.cache import CachePolicy
from .policies.coalesce import CoalescePolicy
from .policies.deadline import AttemptRunner
from .policies.flag import FlagPolicy, FlagSource
from .policies.injection_guard import InjectionGuardPolicy
from .policies.ledger import LedgerPolicy
from .policies.output_guard import OutputGuardPolicy
from .policies.pii_redaction import PiiRedactionPolicy
from .policies.prompt import PromptPolicy
from .policies.ratelimit import RateLimitPolicy, RouteRateLimitPolicy
from .policies.retry import RetryPolicy, RetrySettings
from .policies.router import RouterPolicy
from .policies.validate import ValidatePolicy
from .pricing import Pricer, PricingError, input_token_bound
from .privacy import user_ids_for
from .route import Cascade, Route, Tier
from .stores.base import BreakerSettings
from .stores.state import open_ledger
from .telemetry.alerts import BudgetAlerts
from .telemetry.logs import get_logger
from .telemetry.observers import call_observers, content_capture

if TYPE_CHECKING:
    from .config import Config, ProviderConfig
    from .policies._flight import Flight
    from .prompts.registry import PromptRegistry
    from .providers.base import Provider
    from .reply import StreamEnd
    from .stores.base import BreakerStore, Counters
    from .stores.outage import StateOutage
    from .telemetry.otel import Otel
    from .types import Attempt, ChatRequest

__all__ = ["DEFAULT_OUTPUT_BOUND", "Generation", "Lasting", "check_config", "outage_allowance", "token_bound"]

log = get_logger("keel.gateway")
DEFAULT_OUTPUT_BOUND = 4096


def token_bound(request: ChatRequest, max_output: int | None) -> int:
    """The most tokens a call can use: its input bound plus the output it may generate."""
    return input_token_bound(request) + (request.output_limit() or max_output or DEFAULT_OUTPUT_BOUND)


@dataclass(eq=False)
class Lasting:
    """What lives as long as the gateway whatever its config: the state stores, coalescing's
    in-flight calls, and which generations hold each closable part."""

    breakers: BreakerStore
    counters: Counters
    flights: dict[str, Flight]
    budget_counters: Counters
    """What budgets (and their alerts) reserve on: ``counters``, failing closed during an outage."""
    limit_counters: Counters
    """What rate limits reserve on: ``counters``, this process's share during an outage."""
    outage: StateOutage | None = None
    """Whether the shared state store answers (None on in-memory state)."""
    retry_budget: RetryBudget | None = None
    prompts: PromptRegistry | None = None
    """Named prompts: YAML versions of the current config, the database's as last read."""
    flags: FlagSource | None = None
    """Feature flags: the database's as last read, or an OpenFeature provider's."""
    _holders: dict[int, list[Any]] = field(default_factory=dict)  # id(part) -> [part, generations]
    _closing: set[asyncio.Task[None]] = field(default_factory=set)

    def hold(self, parts: list[Any]) -> None:
        for part in parts:
            held = self._holders.setdefault(id(part), [part, 0])
            held[1] += 1

    def release(self, parts: list[Any]) -> None:
        """Drop one generation's hold on ``parts``; close each that no generation holds any more."""
        for part in parts:
            held = self._holders[id(part)]
            held[1] -= 1
            if held[1] == 0:
                del self._holders[id(part)]
                self._close_soon(part)

    def _close_soon(self, part: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(close(part), name="keel-close-retired")
        except RuntimeError:  # no loop: the gateway's ``aclose`` closes what is left
            self._holders[id(part)] = [part, 0]
            return
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every part still held, and wait for retired ones being closed."""
        parts = [part for part, _ in self._holders.values()]
        self._holders.clear()
        for part in parts:
            await close(part)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


async def close(part: Any) -> None:
    closer = getattr(part, "aclose", None) or part.close
    await closer()


class Generation:
    """One config's providers, cascades, prices and policy stack, and the calls running on them."""

    def __init__(
        self,
        config: Config,
        lasting: Lasting,
        *,
        previous: Generation | None = None,
        providers: dict[str, Provider] | None = None,
    ) -> None:
        """Build every part ``config`` needs, taking over what ``previous`` has that still fits.

        Raises:
            ConfigError: a part cannot be built (an unpriced route, a cache backend not installed).
        """
        self.config = config
        self.user_ids = user_ids_for(config)  # what the ledger and counters keep of user ids
        self.lasting = lasting
        self.inflight = 0
        self.retired = False
        self.providers = providers if providers is not None else _providers(config, previous)
        self.cascades = cascades_from_config(config, self.providers)
        self.pricer = Pricer.from_config(config)
        self.pricer.check()
        # Everything that can refuse the config is above; parts are opened or taken over below.
        self.cache = _cache(config, previous)
        self.alerts: BudgetAlerts = (
            previous.alerts
            if previous is not None and previous.config.alerts == config.alerts
            else BudgetAlerts(lasting.budget_counters, webhook_url=config.alerts.webhook_url)
        )
        self.ledger = _ledger(config, previous)
        self.otel = _otel(config, previous)
        lasting.breakers.settings = BreakerSettings(**config.breaker.model_dump())
        if hasattr(lasting.limit_counters, "replicas"):
            lasting.limit_counters.replicas = config.state_outage.replicas
        if hasattr(lasting.budget_counters, "allowance"):
            lasting.budget_counters.allowance = outage_allowance(config)
        rebuild = getattr(lasting.budget_counters, "rebuild", None)
        if rebuild is not None:  # what the budget counters are rebuilt from, should the store lose them
            rebuild.budgets = list(config.budgets)
            rebuild.ledger = self.ledger.store if self.ledger is not None else None
        settings = RetrySettings(**config.retry.model_dump())
        if lasting.retry_budget is None or previous is None or previous.config.retry != config.retry:
            lasting.retry_budget = RetryBudget(settings.budget_ratio, settings.budget_min_per_second)
        self.retry = RetryPolicy(settings, budget=lasting.retry_budget)
        self.markers = Markers(config.guards.canary, config.guards.spotlight)
        router = RouterPolicy(
            self.resolve,
            chain_route(self._per_route(), AttemptRunner(markers=self.markers)),
            fallback_on_content_policy=config.router.fallback_on_content_policy,
            continue_streams=config.router.continue_streams,
        )
        self.handler: Handler = chain(self._outer(), router)
        lasting.hold(self.parts())

    def parts(self) -> list[Any]:
        """What this generation closes when it is retired and no later one holds it."""
        parts: list[Any] = [*self.providers.values(), self.alerts]
        return parts + [part for part in (self.cache, self.ledger, self.otel) if part is not None]

    # The policy stack: the one place that knows its order (DESIGN §1).
    #   outer (once per call):   ledger → output guards → flags → prompt → input guards (injection, pii)
    #                            → budget → ratelimit → cache → coalesce → validate → router
    #   per route (router's):    retry → route ratelimit → breaker → attempt → AttemptRunner → provider
    def _outer(self) -> list[Policy]:
        config, counters, limits = self.config, self.lasting.budget_counters, self.lasting.limit_counters
        policies: list[Policy] = []
        observers = call_observers(config, self.otel)
        # Content is kept where it is read: the ledger, and the span when there is tracing.
        kept = self.ledger is not None or self.otel is not None
        capture = content_capture(config.capture) if kept else None
        if self.ledger is not None or config.metrics.enabled or observers:
            policies.append(LedgerPolicy(self.ledger, config.metrics, observers, capture))
        if guards := build_output_guards(config.guards):
            policies.append(OutputGuardPolicy(guards))
        if self.lasting.flags is not None:
            policies.append(FlagPolicy(self.lasting.flags))
        if self.lasting.prompts is not None:
            policies.append(PromptPolicy(self.lasting.prompts))
        if config.guards.injection.mode != "off":
            policies.append(InjectionGuardPolicy(config.guards.injection))
        if config.guards.pii.mode != "off":
            policies.append(PiiRedactionPolicy(config.guards.pii))
        policies.append(
            BudgetPolicy(
                config.budgets,
                counters,
                self.pricer.route_worst_case,
                self.alerts,
                input_bound=self.pricer.input_bound,
            )
        )
        if any(rule.scope != "route" for rule in config.rate_limits):
            policies.append(RateLimitPolicy(config.rate_limits, limits, token_bound))
        if self.cache is not None:
            cache = self.cache
            policies.append(CachePolicy(config.cache, cache.entries, cache.semantic, cache.guard))
            if config.cache.coalesce:
                flights = self.lasting.flights
                policies.append(CoalescePolicy(config.cache, cache.entries, cache.locks, flights))
        policies.append(ValidatePolicy(config.structured_output.next_route_after))
        return policies

    def _per_route(self) -> list[RoutePolicy]:
        policies: list[RoutePolicy] = [self.retry]
        if any(rule.scope == "route" for rule in self.config.rate_limits):
            limits = self.lasting.limit_counters
            policies.append(RouteRateLimitPolicy(self.config.rate_limits, limits, token_bound))
        policies += [
            BreakerPolicy(self.lasting.breakers),
            AttemptPolicy(coster=self._cost, input_bound=self.pricer.input_bound),
        ]
        return policies

    def _cost(self, route: Route, request: ChatRequest, attempt: Attempt) -> Decimal | None:
        try:
            return self.pricer.attempt_cost(route, request, attempt)
        except PricingError as error:  # only a direct provider/model name can get here unpriced
            log.error("no price for attempt", route=route.name, error=str(error))
            return None

    def resolve(self, model: str) -> Cascade:
        """The cascade for a model name: a configured alias, or ``provider/model`` for one route."""
        cascade = self.cascades.get(model)
        if cascade is not None:
            return cascade
        provider_name, _, upstream = model.partition("/")
        provider = self.providers.get(provider_name)
        if provider is None or not upstream:
            known = ", ".join(sorted(self.cascades)) or "none"
            raise ModelNotFoundError(
                f"model {model!r} is not configured; use one of: {known}, or provider/model"
            )
        try:
            self.pricer.check([(provider_name, upstream)])
        except PricingError as error:
            raise RequestError(str(error)) from None
        cascade = self.cascades[model] = Cascade(
            model, [Tier([build_route(self.config, self.providers, provider_name, upstream)])]
        )
        return cascade

    def enter(self) -> None:
        """A call starts on this generation."""
        self.inflight += 1

    def leave(self, end: StreamEnd | None = None) -> None:
        """A call on this generation ended (a stream's end callback, or a complete answer)."""
        self.inflight -= 1
        if self.retired and self.inflight == 0:
            self.lasting.release(self.parts())

    def retire(self) -> None:
        """A newer generation took over: release this one's parts once its last call has ended."""
        self.retired = True
        if self.inflight == 0:
            self.lasting.release(self.parts())


def outage_allowance(config: Config) -> dict[str, int] | None:
    """``state_outage``'s local allowance in counter units (nano-dollars, tokens); None for
    ``fail_closed``."""
    settings = config.state_outage
    if settings.budgets != "local_allowance":
        return None
    return {"usd": int(settings.allowance_usd * 10**9), "tokens": settings.allowance_tokens}


def check_config(config: Config) -> None:
    """Refuse ``config`` as building a generation from it would, opening nothing: every provider,
    every cascade and every route's price.

    Raises:
        ConfigError: naming what is wrong.
    """
    providers = {name: _provider(name, settings) for name, settings in config.providers.items()}
    cascades_from_config(config, providers)
    Pricer.from_config(config).check()


def _provider(name: str, settings: ProviderConfig) -> Provider:
    try:
        return build_provider(name, settings)
    except ValueError as error:
        raise ConfigError(f"providers.{name}: {error}") from None


def _providers(config: Config, previous: Generation | None) -> dict[str, Provider]:
    """One provider per configured name; unchanged settings keep the previous object and its pool."""
    providers: dict[str, Provider] = {}
    for name, settings in config.providers.items():
        kept = previous.providers.get(name) if previous is not None else None
        if kept is not None and previous is not None and previous.config.providers.get(name) == settings:
            providers[name] = kept
        else:
            providers[name] = _provider(name, settings)
    return providers


def _cache(config: Config, previous: Generation | None) -> CacheStores | None:
    """The previous cache stores when the settings that shape them are unchanged, else new ones."""
    settings = config.cache
    if previous is not None and previous.cache is not None and settings.enabled:
        old = previous.config.cache
        shaped = ("backend", "max_bytes", "coalesce", "semantic")
        if all(getattr(old, name) == getattr(settings, name) for name in shaped):
            previous.cache.guard.timeout = settings.timeout
            return previous.cache
    return open_cache(config)


def _otel(config: Config, previous: Generation | None) -> Otel | None:
    """The tracer and meter of ``tracing:`` (the previous ones while its settings are unchanged)."""
    if not config.tracing.enabled:
        return None
    if previous is not None and previous.otel is not None and previous.config.tracing == config.tracing:
        return previous.otel
    from .telemetry.otel import open_otel

    return open_otel(config.tracing)


def _ledger(config: Config, previous: Generation | None) -> LedgerWriter | None:
    if not config.ledger.enabled:
        return None
    if previous is not None and previous.ledger is not None:
        previous.ledger.durability = config.ledger.durability
        previous.ledger.strict_wait = config.ledger.strict_wait
        return previous.ledger
    settings = config.ledger
    spill = None
    if settings.spill_dir is not None:
        from .ledger_spill import LedgerSpill

        spill = LedgerSpill(settings.spill_dir)
    return LedgerWriter(
        open_ledger(config.database),
        durability=settings.durability,
        strict_wait=settings.strict_wait,
        spill=spill,
    )
