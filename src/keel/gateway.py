"""``Gateway``: builds the policy stack from config — the one place that knows its order — and runs calls.

    outer (once per call):   ledger → budget → ratelimit → cache → coalesce → router
    per route (router's):    retry → route ratelimit → breaker → attempt → AttemptRunner → provider

Guard, prompt and structured-output validation will each be one file and one line in ``_outer``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._build import build_providers, build_route, cascades_from_config
from ._cache import open_cache
from ._replay import replayed
from ._sync import SyncGateway
from .call import Call, Deadline
from .config import Config, load_config
from .errors import ConfigError, ModelNotFoundError, RequestError
from .keys import key_budget, key_token_budget
from .ledger import LedgerWriter
from .policies.attempt import AttemptPolicy
from .policies.base import Handler, Policy, RoutePolicy, chain, chain_route
from .policies.breaker import BreakerPolicy
from .policies.budget import BudgetPolicy
from .policies.cache import CachePolicy
from .policies.coalesce import CoalescePolicy
from .policies.deadline import AttemptRunner
from .policies.ledger import LedgerPolicy
from .policies.ratelimit import RateLimitPolicy, RouteRateLimitPolicy
from .policies.retry import RetryPolicy, RetrySettings
from .policies.router import RouterPolicy
from .pricing import Pricer, PricingError, input_token_bound
from .reply import ChunkStream
from .route import Cascade, Route, Tier
from .stores.base import BreakerSettings
from .stores.state import open_breaker_store, open_counters, open_ledger
from .telemetry.alerts import BudgetAlerts
from .telemetry.logs import get_logger
from .types import Attempt, ChatRequest, ChatResponse, Chunk, Message

if TYPE_CHECKING:
    from .providers.base import Provider

__all__ = ["Gateway", "GatewayStream"]

log = get_logger("keel.gateway")
DEFAULT_OUTPUT_BOUND = 4096


def token_bound(request: ChatRequest, max_output: int | None) -> int:
    """The most tokens a call can use: its input bound plus the output it may generate."""
    return input_token_bound(request) + (request.output_limit() or max_output or DEFAULT_OUTPUT_BOUND)


class Gateway:
    """The library entry point: ``await gw.chat(...)``, ``async for c in gw.stream(...)``, ``gw.sync``."""

    def __init__(self, config: Config, *, providers: dict[str, Provider] | None = None) -> None:
        self.config = config
        self.providers = providers if providers is not None else build_providers(config)
        self.cascades = cascades_from_config(config, self.providers)
        self.pricer = Pricer.from_config(config)
        self.pricer.check()
        try:
            self.breakers = open_breaker_store(config.state, BreakerSettings(**config.breaker.model_dump()))
            self.counters = open_counters(config.state)
        except ImportError as exc:
            raise ConfigError(f"state: {exc}") from None
        self.alerts = BudgetAlerts(self.counters, webhook_url=config.alerts.webhook_url)
        self.retry = RetryPolicy(RetrySettings(**config.retry.model_dump()))
        self.ledger = (
            LedgerWriter(open_ledger(config.database), durability=config.ledger.durability)
            if config.ledger.enabled
            else None
        )
        self.cache = open_cache(config)
        route_chain = chain_route(self._per_route(), AttemptRunner())
        router = RouterPolicy(
            self.resolve,
            route_chain,
            fallback_on_content_policy=config.router.fallback_on_content_policy,
            continue_streams=config.router.continue_streams,
        )
        self._handler: Handler = chain(self._outer(), router)
        self._sync: SyncGateway | None = None

    @classmethod
    def from_config(cls, source: str | Path | dict[str, Any] | Config | None = None) -> Gateway:
        """A gateway from a ``keel.yaml`` path, a dict, a ``Config``, or nothing (the default cascade).

        Raises:
            ConfigError: the config is invalid; the message names the field and the fix.
        """
        return cls(load_config(source))

    def _outer(self) -> list[Policy]:
        config = self.config
        policies: list[Policy] = []
        if self.ledger is not None:
            policies.append(LedgerPolicy(self.ledger))
        policies.append(
            BudgetPolicy(
                config.budgets,
                self.counters,
                self.pricer.route_worst_case,
                self.alerts,
                input_bound=self.pricer.input_bound,
            )
        )
        if any(rule.scope != "route" for rule in config.rate_limits):
            policies.append(RateLimitPolicy(config.rate_limits, self.counters, token_bound))
        if self.cache is not None:
            cache = self.cache
            policies.append(CachePolicy(config.cache, cache.entries, cache.semantic, cache.guard))
        if self.cache is not None and config.cache.coalesce:
            policies.append(CoalescePolicy(config.cache, self.cache.entries, self.cache.locks))
        return policies

    def _per_route(self) -> list[RoutePolicy]:
        policies: list[RoutePolicy] = [self.retry]
        if any(rule.scope == "route" for rule in self.config.rate_limits):
            policies.append(RouteRateLimitPolicy(self.config.rate_limits, self.counters, token_bound))
        policies += [
            BreakerPolicy(self.breakers),
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

    async def call(
        self, request: ChatRequest, *, stream: bool = False, **options: Any
    ) -> ChatResponse | ChunkStream:
        """Run one request through the whole stack; the ``Reply`` as the policies return it."""
        return await self.run(self.new_call(request, stream=stream, **options))

    async def run(self, call: Call) -> ChatResponse | ChunkStream:
        """Run a prepared ``Call`` (see ``new_call``) through the stack."""
        return await self._handler(call)

    def new_call(self, request: ChatRequest, *, stream: bool = False, **options: Any) -> Call:
        """A call ready for ``run``; ``options`` are Keel's own (``timeout``, ``key_id``, ``team``,
        ``max_cost_usd``, ``principal`` — whose key id, team and key budget it fills in)."""
        principal = options.get("principal")
        if principal is not None:
            options.setdefault("key_id", principal.key_id)
            options.setdefault("team", principal.team)
            try:
                budget = key_budget(principal.metadata or {})
                tokens = key_token_budget(principal.metadata or {})
            except ValueError as error:  # a key stored before its budget fields were checked
                raise ConfigError(f"virtual key {principal.key_id}: {error}") from None
            if budget is not None:
                options.setdefault("key_budget", budget)
            if tokens is not None:
                options.setdefault("key_token_budget", tokens)
        timeouts = self.config.timeouts
        total = options.pop("timeout", None) or timeouts.total
        return Call(
            request=request,
            deadline=Deadline.after(total),
            stream=stream,
            retries_left=self.config.retry.per_call_retries,
            options=options,
        )

    async def chat(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> ChatResponse:
        """One complete answer.

        Args:
            model: a configured model name, or ``provider/model``.
            messages: OpenAI-style messages (dicts or ``Message``).
            **params: any Chat Completions parameter (``temperature``, ``tools``, ...); ``timeout``
                sets this call's total deadline in seconds; ``keel={...}`` carries Keel's own
                options (``key_id``, ``team``, ``max_cost_usd``; ``cache``, ``cache_ttl``,
                ``cache_refresh`` — docs/cache.md), never sent upstream.

        Returns:
            The response, naming the route that answered and every attempt made.

        Raises:
            KeelError: a class of ``keel.errors``; ``.attempts`` lists what was tried.
        """
        options = {"timeout": params.pop("timeout", None), **(params.pop("keel", None) or {})}
        call = self.new_call(_request(model, messages, params), **options)
        try:
            reply = await self._handler(call)
        except Exception as error:
            error.attempts = call.attempts  # type: ignore[attr-defined]
            raise
        if isinstance(reply, ChunkStream):  # a policy answered from a stream (e.g. a shared call)
            reply = await reply.collect()
        return _annotate(reply, call)

    def stream(self, model: str = "default", messages: Iterable[Any] = (), **params: Any) -> GatewayStream:
        """Chunks of one answer as they arrive; errors before the first content raise on iteration."""
        options = {"timeout": params.pop("timeout", None), **(params.pop("keel", None) or {})}
        return GatewayStream(self, self.new_call(_request(model, messages, params), stream=True, **options))

    @property
    def sync(self) -> SyncGateway:
        """Blocking versions of ``chat`` and ``stream`` for scripts and notebooks."""
        if self._sync is None:
            self._sync = SyncGateway(self)
        return self._sync

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        close = getattr(self.breakers, "aclose", None)
        if close is not None:
            await close()
        if self.ledger is not None:
            await self.ledger.close()
        await self.alerts.aclose()
        if self.cache is not None:
            await self.cache.aclose()
        close = getattr(self.counters, "aclose", None)
        if close is not None:
            await close()

    def close(self) -> None:
        """Close a gateway used through ``.sync``."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class GatewayStream:
    """Chunks of one answer; ``response`` is the answer so far, with its route and attempts."""

    def __init__(self, gateway: Gateway, call: Call) -> None:
        self._gateway = gateway
        self.call = call
        self._stream: ChunkStream | None = None

    def __aiter__(self) -> GatewayStream:
        return self

    async def __anext__(self) -> Chunk:
        if self._stream is None:
            try:
                reply = await self._gateway._handler(self.call)
            except Exception as error:
                error.attempts = self.call.attempts  # type: ignore[attr-defined]
                raise
            self._stream = reply if isinstance(reply, ChunkStream) else replayed(reply)
        return await self._stream.__anext__()

    @property
    def response(self) -> ChatResponse | None:
        """What has been delivered so far, as one response."""
        return _annotate(self._stream.partial, self.call) if self._stream else None

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()


def _request(model: str, messages: Iterable[Any], params: dict[str, Any]) -> ChatRequest:
    try:
        return ChatRequest(
            model=model,
            messages=[m if isinstance(m, Message) else Message.model_validate(m) for m in messages],
            **params,
        )
    except ValidationError as exc:
        raise RequestError(f"invalid request: {exc.errors(include_url=False)[0]['msg']}") from None


def _annotate(response: ChatResponse, call: Call) -> ChatResponse:
    response.attempts = call.attempts
    response.cache = call.options.get("cache_info")
    answered = [attempt for attempt in call.attempts if attempt.outcome in ("ok", "streaming")]
    if answered:
        response.route = answered[-1].route
        response.upstream_request_id = response.upstream_request_id or answered[-1].upstream_request_id
    return response
