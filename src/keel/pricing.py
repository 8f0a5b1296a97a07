"""The cost of a call: the usage a provider reported, priced per token class from dated data.

Prices come from genai-prices (the pinned package's own data; nothing is fetched at run time),
layered per gateway instance under ``pricing:`` in ``keel.yaml``. A ``Pricer`` decides a route's price
in this order, first match wins:

1. a provider of kind ``local`` (the bundled model) is free;
2. ``pricing.models["provider/model"]``, then ``pricing.models["provider/*"]``;
3. genai-prices, for the provider id the route's profile maps to (``price_provider``);
4. ``pricing.unknown``: ``refuse`` raises ``PricingError``; default prices are used as configured.

Nothing is ever priced at zero by accident. Money is ``Decimal`` in USD, unrounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from ._prices import library, tokenizer
from ._prices.bound import IMAGE_TOKENS, input_token_bound
from ._prices.rates import Cost, PriceSource, PricingError, Rates
from ._prices.usage import usage_from_anthropic, usage_from_gemini
from .config import Config, PriceConfig, PricingConfig, ProviderConfig
from .errors import RequestError
from .types import Attempt, ChatRequest, Usage

if TYPE_CHECKING:
    from .route import Route

__all__ = [
    "IMAGE_TOKENS",
    "Cost",
    "PriceSource",
    "Pricer",
    "PricingError",
    "Rates",
    "cost",
    "input_token_bound",
    "price_provider",
    "usage_from_anthropic",
    "usage_from_gemini",
    "worst_case",
]

# Keel's OpenAI-compatible profiles → genai-prices provider ids. ``None``: a self-hosted server, which
# only the operator can price. ``generic`` is looked up by its base URL.
_PROFILE_PROVIDERS: dict[str, str | None] = {
    "openai": "openai",
    "azure": "azure",
    "gemini": "google",
    "groq": "groq",
    "together": "together",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "mistral": "mistral",
    "vllm": None,
    "ollama": None,
    "llamacpp": None,
    "generic": None,
}


def price_provider(settings: ProviderConfig) -> str | None:
    """The genai-prices provider id for a configured provider, or None when only config can price it."""
    kind = str(settings.kind)
    if kind != "openai":
        return kind if library.knows_provider(kind) else None  # e.g. "anthropic"
    return _PROFILE_PROVIDERS.get(settings.profile or "openai")


class Pricer:
    """Prices for one gateway instance: the library's data under this instance's ``pricing:`` config.

    ``provider`` arguments name a provider as ``keel.yaml`` does (a route is ``provider/model``); a
    name that is not configured is taken as a genai-prices provider id (``openai``, ``anthropic``,
    ``google``, ...).
    """

    def __init__(
        self,
        settings: PricingConfig | None = None,
        providers: Mapping[str, ProviderConfig] | None = None,
        *,
        deployments: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.settings = settings or PricingConfig()
        self.providers = dict(providers or {})
        self.deployments = list(deployments)
        self._daily: dict[tuple[str, str, str | None, bool, date], Rates] = {}

    @classmethod
    def from_config(cls, config: Config) -> Pricer:
        """A pricer for ``config``'s providers and ``pricing:`` section."""
        deployments = {
            (deployment.provider, deployment.model or "")
            for tiers in config.models.values()
            for tier in tiers
            for deployment in tier
        }
        if config.budgets and config.pricing.tokenizer:  # reservations want the tighter bound at once
            tokenizer.preload(
                encoding
                for provider, model in deployments
                if config.providers[provider].kind == "openai" and (encoding := tokenizer.encoding_for(model))
            )
        return cls(config.pricing, config.providers, deployments=sorted(deployments))

    def cost(
        self,
        usage: Usage,
        *,
        provider: str,
        model: str,
        at: datetime | None = None,
        service_tier: str | None = None,
    ) -> Cost:
        """The cost of ``usage`` on ``provider/model``, at the prices in force at ``at`` (default: now).

        Args:
            usage: normalised usage (see ``Usage``; ``usage_from_anthropic`` for Anthropic's shape).
            provider: a configured provider name, or a genai-prices provider id.
            model: the upstream model as the provider names it.
            at: when the request was made; naive times are UTC.
            service_tier: the tier the provider says it served (``priority``, ``flex``), if priced apart.

        Returns:
            The cost per token class, with the price's source, version and start date.

        Raises:
            PricingError: no price for the model and ``pricing.unknown`` is ``refuse``, or the usage
                is not normalised.
        """
        return self.rates(
            provider=provider, model=model, at=at, input_tokens=usage.input_tokens, service_tier=service_tier
        ).cost(usage)

    def worst_case(
        self,
        input_bound_tokens: int,
        max_output_tokens: int,
        *,
        provider: str,
        model: str,
        at: datetime | None = None,
        cache_writes: bool = True,
        service_tier: str | None = None,
    ) -> Decimal:
        """The reservation for one attempt: the most it can cost (DESIGN §2).

        ``input_bound_tokens * input price + max_output_tokens * output price``, where each price is
        the highest of its side's classes (a cache write costs more than plain input on Anthropic;
        pass ``cache_writes=False`` when the request asks for no caching) and of any price tier the
        bound reaches, plus any per-request fee.

        Args:
            input_bound_tokens: an upper bound on input tokens, e.g. ``input_token_bound(request)``.
            max_output_tokens: the request's ``max_tokens``, or the model's output limit.

        Raises:
            PricingError: as ``cost``.
        """
        rates = self.rates(
            provider=provider,
            model=model,
            at=at,
            input_tokens=input_bound_tokens,
            service_tier=service_tier,
            ceiling=True,
        )
        return rates.ceiling(input_bound_tokens, max_output_tokens, cache_writes=cache_writes)

    def route_worst_case(self, route: Route, request: ChatRequest) -> Decimal:
        """``worst_case`` for one attempt of ``request`` on ``route`` (the budget policy's ``WorstCase``).

        Input is bounded by ``input_token_bound``; output by the request's limit, else the route's
        ``max_output_tokens``, else its context window, which bounds input and output together: the
        reservation is then the dearer of a window of output alone and the whole input bound with the
        rest of the window as output. (The window less the input bound alone would not be safe: the
        real input may be shorter than its bound, leaving room for more output.)

        Raises:
            PricingError: no price for the route.
            RequestError: nothing bounds its output, so no reservation can cover it (a 400 that says
                to send ``max_tokens``, rather than a server error).
        """
        input_bound = self.input_bound(route, request)
        limit = request.output_limit() or route.capabilities.max_output_tokens
        if limit is not None:
            return self.worst_case(
                input_bound, limit, provider=route.provider.name, model=route.upstream_model
            )
        window = route.capabilities.context_window
        if window is None:
            raise RequestError(
                f"{route.name}: the request sets no max_tokens and the route no max_output_tokens, so its "
                "cost has no bound and a budget cannot cover it; send max_tokens, or set max_output_tokens "
                "on the deployment in keel.yaml"
            )
        rates = self.rates(
            provider=route.provider.name, model=route.upstream_model, input_tokens=input_bound, ceiling=True
        )
        return max(rates.ceiling(0, window), rates.ceiling(input_bound, max(window - input_bound, 0)))

    def input_bound(self, route: Route, request: ChatRequest) -> int:
        """``input_token_bound`` of ``request``, counted with ``route``'s tokenizer where one has loaded.

        Only an OpenAI-compatible route to a model of OpenAI's own families has one (see
        ``_prices/tokenizer.py``); the first call starts loading it, and until it is ready, or for any
        other route, the UTF-8 bound is used.
        """
        settings = self.providers.get(route.provider.name)
        encoding = tokenizer.encoding_for(route.upstream_model) if self.settings.tokenizer else None
        if encoding is None or (settings is not None and settings.kind != "openai"):
            return input_token_bound(request)
        tokenizer.preload((encoding,))
        return input_token_bound(request, count=tokenizer.counter(encoding))

    def attempt_cost(self, route: Route, request: ChatRequest, attempt: Attempt) -> Decimal | None:
        """What one ended attempt cost (the attempt policy's ``Coster``); None when nothing was used.

        A stream cut before the provider reported usage is charged its upper bound: the request's
        input bound and one token per delivered byte of output.

        Raises:
            PricingError: no price for the route.
        """
        usage = attempt.usage
        if usage is None and attempt.delivered_bytes:
            bound = (
                attempt.input_bound if attempt.input_bound is not None else self.input_bound(route, request)
            )
            usage = Usage(input_tokens=bound, output_tokens=attempt.delivered_bytes)
        if usage is None:
            return None
        at = datetime.fromtimestamp(attempt.started_at, UTC) if attempt.started_at else None
        return self.cost(usage, provider=route.provider.name, model=route.upstream_model, at=at).total

    def rates(
        self,
        *,
        provider: str,
        model: str,
        at: datetime | None = None,
        input_tokens: int = 0,
        service_tier: str | None = None,
        ceiling: bool = False,
    ) -> Rates:
        """The rates for ``provider/model`` at ``at``, for a prompt of ``input_tokens`` (price tiers)."""
        settings = self.providers.get(provider)
        if (settings is not None and settings.kind == "local") or (settings is None and provider == "local"):
            return Rates.free(provider, model)
        overrides = self.settings.models
        for name in (f"{provider}/{model}", f"{provider}/*"):
            if name in overrides:
                return Rates.from_config(overrides[name], PriceSource("config", provider, name, "keel.yaml"))
        when = at or datetime.now(UTC)
        day = (when.astimezone(UTC) if when.tzinfo is not None else when).date()
        key = (provider, model, service_tier, ceiling, day)
        kept = self._daily.get(key)
        if kept is not None:
            return kept
        price_id, api_url = self._price_provider(provider, settings)
        why = f"provider {provider!r} is self-hosted or not known to genai-prices"
        if price_id is not None or api_url is not None:
            try:
                found = library.lookup(
                    model, when, provider=price_id, api_url=api_url, service_tier=service_tier
                )
            except LookupError as exc:
                why = f"genai-prices {library.VERSION}: {exc}"
            else:
                rates = Rates.from_library(found, input_tokens, ceiling=ceiling)
                if found.same_all_day and not found.tiered:  # the same rates all day, any prompt
                    if len(self._daily) >= _DAILY_MAX:
                        self._daily.clear()
                    self._daily[key] = rates
                return rates
        return self._unknown(provider, model, why)

    def check(self, routes: Iterable[tuple[str, str]] | None = None) -> None:
        """Fail at start, naming every route without a price, rather than at the route's first call.

        Args:
            routes: ``(provider, model)`` pairs; by default every deployment of the config this
                pricer was built from.

        Raises:
            PricingError: naming each unpriced route and the config that would price it.
        """
        for name, price_id in self.settings.providers.items():
            if not library.knows_provider(price_id):
                raise PricingError(f"pricing.providers.{name}: genai-prices has no provider {price_id!r}")
        for key in self.settings.models:
            provider = key.partition("/")[0]
            if self.providers and provider not in self.providers:
                raise PricingError(f"pricing.models[{key!r}]: no provider {provider!r} is configured")
        missing = []
        for provider, model in self.deployments if routes is None else routes:
            try:
                self.rates(provider=provider, model=model)
            except PricingError:
                missing.append(f"{provider}/{model}")
        if missing:
            raise PricingError(
                f"no price for {', '.join(missing)}: add pricing.models[{missing[0]!r}]: "
                "{input: <USD per 1M tokens>, output: <USD per 1M tokens>} (or free) to keel.yaml, "
                "or set pricing.unknown to default prices"
            )

    def _price_provider(
        self, provider: str, settings: ProviderConfig | None
    ) -> tuple[str | None, str | None]:
        """(genai-prices id, endpoint URL to match) for a provider: the one place names are mapped."""
        if provider in self.settings.providers:
            return self.settings.providers[provider], None
        if settings is None:
            return provider, None
        price_id = price_provider(settings)
        if price_id is None and (settings.profile or "openai") == "generic" and settings.base_url:
            return None, settings.base_url
        return price_id, None

    def _unknown(self, provider: str, model: str, why: str) -> Rates:
        default = self.settings.unknown
        if isinstance(default, PriceConfig):
            return Rates.from_config(default, PriceSource("default", provider, model, "keel.yaml"))
        raise PricingError(
            f"no price for {provider}/{model} ({why}); add pricing.models[{f'{provider}/{model}'!r}]: "
            "{input: <USD per 1M tokens>, output: <USD per 1M tokens>} (or free) to keel.yaml, "
            "or set pricing.unknown to default prices"
        )


_DAILY_MAX = 4096
"""Rates kept per (provider, model, tier, ceiling, UTC day) by one pricer before it starts over."""

_DEFAULT = Pricer()


def cost(usage: Usage, *, provider: str, model: str, at: datetime | None = None) -> Cost:
    """The cost of ``usage`` at genai-prices' price for ``provider`` (its id: ``openai``, ``anthropic``,
    ``google``, ...) and ``model`` at ``at``; ``local`` is free; anything unknown raises ``PricingError``."""
    return _DEFAULT.cost(usage, provider=provider, model=model, at=at)


def worst_case(
    input_bound_tokens: int,
    max_output_tokens: int,
    *,
    provider: str,
    model: str,
    at: datetime | None = None,
    cache_writes: bool = True,
) -> Decimal:
    """``Pricer.worst_case`` at genai-prices' prices, with no config."""
    return _DEFAULT.worst_case(
        input_bound_tokens,
        max_output_tokens,
        provider=provider,
        model=model,
        at=at,
        cache_writes=cache_writes,
    )
