"""Feature flags (docs/flags.md): variants of model, prompt and parameters, targeting rules, sticky
percentage rollouts, a kill switch, per-flag budgets, and OpenFeature both ways."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .flag import Context, Decision, Flag, Rule, Variant, layout_rollout
from .registry import FlagRegistry

if TYPE_CHECKING:
    from ..config import Config
    from ..policies.flag import FlagSource

__all__ = ["Context", "Decision", "Flag", "FlagRegistry", "Rule", "Variant", "layout_rollout", "open_flags"]


def open_flags(config: Config) -> FlagSource:
    """Where this gateway's flag decisions come from: an OpenFeature provider when ``flags.provider``
    names one, else the database (``FlagRegistry``). Nothing is read until the first call that names
    a feature."""
    if config.flags.provider is not None:
        from .openfeature_source import OpenFeatureFlags

        return OpenFeatureFlags(config.flags.provider)
    return FlagRegistry(config)
