"""The value objects of a price: ``Rates`` per token class, the ``Cost`` they give a usage, and
where the price came from (``PriceSource``). ``keel.pricing`` decides which rates apply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ..config import PriceConfig
from ..errors import ConfigError
from ..types import Usage
from . import library
from .usage import CACHE_WRITE_1H

__all__ = ["Cost", "PriceSource", "PricingError", "Rates"]

_MTOK = Decimal(1_000_000)
_ZERO = Decimal(0)


class PricingError(ConfigError):
    """No price for a model: the library does not know it and ``pricing.unknown`` is ``refuse``."""


@dataclass(frozen=True, slots=True)
class PriceSource:
    """Where a price came from: ``genai-prices`` (with its version and the date the price started),
    ``config`` (an override in ``keel.yaml``), ``default`` (``pricing.unknown``) or ``free`` (local)."""

    kind: Literal["genai-prices", "config", "default", "free"]
    provider: str
    model: str
    version: str
    effective_from: date | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """USD per token class of one attempt; ``total`` is their sum.

    ``input`` is the uncached input; ``output`` the output that is not reasoning; ``reasoning`` is
    priced at its own rate where the provider has one, else at the output rate.
    """

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    output: Decimal
    reasoning: Decimal
    request: Decimal
    source: PriceSource

    @property
    def total(self) -> Decimal:
        return self.input + self.cached_input + self.cache_write + self.output + self.reasoning + self.request

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as decimal strings, never floats."""
        amounts = ("input", "cached_input", "cache_write", "output", "reasoning", "request", "total")
        return {
            **{name: _plain(getattr(self, name)) for name in amounts},
            "source": {
                "kind": self.source.kind,
                "provider": self.source.provider,
                "model": self.source.model,
                "version": self.source.version,
                "effective_from": self.source.effective_from.isoformat()
                if self.source.effective_from
                else None,
            },
        }


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each class for one model at one moment, and USD per request."""

    input: Decimal
    cached_input: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    output: Decimal
    reasoning: Decimal
    per_request: Decimal
    source: PriceSource

    def cost(self, usage: Usage) -> Cost:
        """Price ``usage`` (normalised: ``input_tokens`` and ``output_tokens`` include their parts).

        Raises:
            PricingError: a part exceeds its whole, i.e. the usage was not normalised.
        """
        cache_read, cache_write = usage.cached_input_tokens, usage.cache_write_tokens
        extra = usage.__pydantic_extra__  # read directly: a missing attribute is slow on a model
        one_hour = min((extra.get(CACHE_WRITE_1H) if extra else 0) or 0, cache_write)
        uncached = usage.input_tokens - cache_read - cache_write
        answer = usage.output_tokens - usage.reasoning_tokens
        if uncached < 0 or answer < 0:
            raise PricingError(
                f"usage is not normalised ({usage!r}): cache tokens must be part of input_tokens and "
                "reasoning tokens part of output_tokens; see keel.pricing.usage_from_anthropic"
            )
        writes = (cache_write - one_hour) * self.cache_write + one_hour * self.cache_write_1h
        return Cost(
            input=uncached * self.input / _MTOK,
            cached_input=cache_read * self.cached_input / _MTOK,
            cache_write=writes / _MTOK,
            output=answer * self.output / _MTOK,
            reasoning=usage.reasoning_tokens * self.reasoning / _MTOK,
            request=self.per_request,
            source=self.source,
        )

    def ceiling(self, input_tokens: int, output_tokens: int, *, cache_writes: bool = True) -> Decimal:
        """The most ``input_tokens`` in and ``output_tokens`` out can cost, whatever their classes."""
        input_rates = [self.input, self.cached_input]
        if cache_writes:
            input_rates += [self.cache_write, self.cache_write_1h]
        per_input = max(input_rates)
        per_output = max(self.output, self.reasoning)
        return (input_tokens * per_input + output_tokens * per_output) / _MTOK + self.per_request

    @classmethod
    def free(cls, provider: str, model: str) -> Rates:
        """Zero for every class: the bundled local model."""
        return cls(
            _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, PriceSource("free", provider, model, "keel")
        )

    @classmethod
    def from_config(cls, price: PriceConfig, source: PriceSource) -> Rates:
        cache_write = price.cache_write if price.cache_write is not None else price.input
        return cls(
            input=price.input,
            cached_input=price.cached_input if price.cached_input is not None else price.input,
            cache_write=cache_write,
            cache_write_1h=cache_write,
            output=price.output,
            reasoning=price.reasoning if price.reasoning is not None else price.output,
            per_request=price.per_request,
            source=source,
        )

    @classmethod
    def from_library(cls, found: library.LibraryPrice, input_tokens: int, *, ceiling: bool = False) -> Rates:
        """The rates of a library price for a prompt of ``input_tokens`` (which picks a price tier)."""

        def rate(*keys: str) -> Decimal | None:
            """The first of ``keys`` the model has a price for: a class falls back to its parent's."""
            for key in keys:
                value = found.per_mtok(key, input_tokens, ceiling=ceiling)
                if value is not None:
                    return value
            return None

        # A class the data gives no price costs nothing, as in the library (e.g. a model listed free).
        input_rate, output_rate = _or(rate("input_mtok"), _ZERO), _or(rate("output_mtok"), _ZERO)
        cache_write = _or(rate("cache_write_mtok"), input_rate)
        return cls(
            input=input_rate,
            cached_input=_or(rate("cache_read_mtok"), input_rate),
            cache_write=cache_write,
            cache_write_1h=_or(rate("cache_write_1h_mtok"), cache_write),
            output=output_rate,
            reasoning=_or(rate("output_reasoning_mtok"), output_rate),
            per_request=found.per_request(),
            source=PriceSource(
                "genai-prices",
                found.provider,
                found.model,
                f"genai-prices {library.VERSION}",
                found.effective_from,
            ),
        )


def _plain(amount: Decimal) -> str:
    """``0.0000264`` rather than ``2.64E-5``, and ``0`` rather than ``0.00``."""
    return format(amount.normalize(), "f")


def _or(value: Decimal | None, fallback: Decimal) -> Decimal:
    """``value`` unless the data has none (a price of 0 is a price)."""
    return fallback if value is None else value
