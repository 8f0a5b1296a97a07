"""genai-prices behind one function: the dated prices of one provider's model, from the pinned package data.

This is the only module that imports ``genai_prices``. It reads the data shipped inside the installed
package and never the process-wide snapshot that ``genai_prices.UpdatePrices`` replaces with prices
fetched from the network, so a cost is always explained by the pinned version (``VERSION``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache

import genai_prices
from genai_prices.data_snapshot import DataSnapshot
from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
    calc_unit_price,
)

__all__ = ["VERSION", "LibraryPrice", "knows_provider", "lookup"]

VERSION: str = genai_prices.__version__

_MTOK = 1_000_000


@cache
def _snapshot() -> DataSnapshot:
    """The bundled data, loaded on first use (it is a large module)."""
    from genai_prices.data import providers

    return DataSnapshot(providers=providers, from_auto_update=False)


@dataclass(frozen=True, slots=True)
class LibraryPrice:
    """One model's prices in force at a moment, as the library states them (per price key)."""

    provider: str
    model: str
    prices: ModelPrice
    effective_from: date | None
    same_all_day: bool = False
    """No price or variant of the model applies only at some hours (as off-peak rates do)."""

    @property
    def tiered(self) -> bool:
        """Whether any price depends on the prompt's size."""
        return any(isinstance(value, TieredPrices) for value in vars(self.prices).values())

    def per_mtok(self, key: str, input_tokens: int, *, ceiling: bool = False) -> Decimal | None:
        """USD per million for one price key (``input_mtok``, ...) at a prompt of ``input_tokens``.

        Tiered prices use the library's own rule (the tier the prompt's size reaches); with ``ceiling``,
        the highest price any prompt up to that size could pay, for a reservation.
        """
        price = getattr(self.prices, key, None)
        if price is None:
            return None
        if ceiling and isinstance(price, TieredPrices):
            return max([price.base, *(tier.price for tier in price.tiers if input_tokens > tier.start)])
        return calc_unit_price(price, _MTOK, input_tokens, _MTOK)

    def per_request(self) -> Decimal:
        """USD charged per request on top of tokens (a few providers have one)."""
        price = getattr(self.prices, "requests_kcount", None)
        return Decimal(0) if price is None else Decimal(price) / 1000


def lookup(
    model: str,
    at: datetime,
    *,
    provider: str | None = None,
    api_url: str | None = None,
    service_tier: str | None = None,
) -> LibraryPrice:
    """The prices of ``model`` at ``provider`` (a genai-prices id) or at the endpoint ``api_url``.

    Raises:
        LookupError: the library knows no such provider, or no such model there.
    """
    day = (at.astimezone(UTC) if at.tzinfo is not None else at).date()  # the library's UTC day
    key = (model, provider, api_url, service_tier, day)
    kept = _by_day.get(key)
    if kept is not None:
        return kept
    found, info = _snapshot().find_provider_model(model, None, provider, api_url)
    context: Mapping[str, str] | None = {"service_tier": service_tier} if service_tier else None
    if not any(info is own for own in found.models):
        context = None  # a model borrowed from another provider's list has no variants here (as the library)
    same_all_day = not _by_time_of_day(info)
    prices = info.get_prices(at, context)
    price = LibraryPrice(found.id, info.id, prices, _effective_from(info, at), same_all_day)
    if same_all_day:  # keep it for the day
        if len(_by_day) >= _BY_DAY_MAX:
            _by_day.clear()
        _by_day[key] = price
    return price


_by_day: dict[tuple[str, str | None, str | None, str | None, date], LibraryPrice] = {}
"""Prices found, per model and UTC day, for models whose price does not change within a day."""
_BY_DAY_MAX = 4096


def _by_time_of_day(info: ModelInfo) -> bool:
    """Whether any price or variant of ``info`` applies only at some hours (e.g. off-peak rates)."""
    conditions = [] if isinstance(info.prices, ModelPrice) else [c.constraint for c in info.prices]
    conditions += [variant.constraint for variant in info.price_variants or ()]
    return any(isinstance(condition, TimeOfDateConstraint) for condition in conditions)


def knows_provider(provider: str) -> bool:
    """True when the library has a provider by this id (or one that matches it)."""
    try:
        _snapshot().find_provider(None, provider, None)
    except LookupError:
        return False
    return True


def _effective_from(info: ModelInfo, at: datetime) -> date | None:
    """The date the price in force at ``at`` started, when the data gives one."""
    if isinstance(info.prices, ModelPrice):
        return None
    for conditional in reversed(info.prices):  # the library's rule: the last active price wins
        constraint = conditional.constraint
        if constraint is None or constraint.active(at):
            return constraint.start_date if isinstance(constraint, StartDateConstraint) else None
    return None
