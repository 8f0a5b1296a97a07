"""``OpenFeatureFlags``: Keel's flag decisions taken from any OpenFeature provider instead of its store.

Configured by name and import string (``flags.provider``); the provider is built once, initialised,
and asked for each call that names a feature, with an evaluation context whose targeting key is the
caller (the user, else the key) and whose attributes are the key, team, user and the attributes the
call sent. The provider's answer for a flag is an object value:

- ``false`` or ``null`` (or a disabled flag's default): the feature is off — refused (``feature_disabled``);
- ``true``: on, changing nothing;
- an object ``{"model": ..., "prompt": ..., "params": {...}}``: on, as that variant.

The variant's name is the provider's ``variant`` (else ``on``); a name ``flags.provider.variants``
defines takes its model, prompt and params from there. Keel's own store, its rollout and kill
switch are not consulted: the provider decides.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .flag import Context, Decision, Variant

if TYPE_CHECKING:
    from ..config import FlagProviderConfig

__all__ = ["OpenFeatureFlags", "load_provider"]


def load_provider(settings: FlagProviderConfig) -> Any:
    """The provider ``settings.factory`` names: ``module:attribute``, a provider or a callable
    returning one (called with ``settings.options``).

    Raises:
        ConfigError: the import string does not name one, or openfeature-sdk is not installed.
    """
    try:
        import openfeature.provider  # noqa: F401
    except ImportError:
        raise ConfigError(
            "flags.provider needs the OpenFeature SDK: pip install 'keel[openfeature]'"
        ) from None
    module_name, _, attribute = settings.factory.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split(".") if attribute else ():
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"flags.provider.import: {settings.factory!r} cannot be imported: {error}"
        ) from None
    if inspect.isclass(found) or (callable(found) and not hasattr(found, "resolve_object_details")):
        found = found(**settings.options)
    if not hasattr(found, "resolve_object_details"):
        raise ConfigError(f"flags.provider.import: {settings.factory!r} is not an OpenFeature provider")
    return found


class OpenFeatureFlags:
    """Flag decisions from an OpenFeature provider (the same ``decide`` as ``FlagRegistry``)."""

    def __init__(self, settings: FlagProviderConfig, provider: Any | None = None) -> None:
        self.settings = settings
        self.provider = provider if provider is not None else load_provider(settings)
        self._started = False
        self.notify: Any = None

    async def decide(self, name: str, context: Context) -> Decision:
        from openfeature.evaluation_context import EvaluationContext

        if not self._started:
            self.provider.initialize(EvaluationContext())
            self._started = True
        attributes = {
            key: value
            for key, value in (("key", context.key), ("team", context.team), ("user", context.user))
            if value is not None
        }
        evaluation = EvaluationContext(context.caller or None, {**context.attributes, **attributes})
        details = await self.provider.resolve_object_details_async(name, None, evaluation)
        value = details.value
        if details.error_code is not None or value is None or value is False:
            return Decision(name, None, "off", off=str(details.reason or "provider"))
        variant = details.variant or "on"
        if variant in self.settings.variants:
            settings = Variant.model_validate(self.settings.variants[variant])
        elif isinstance(value, dict):
            settings = Variant.model_validate(value)
        else:
            settings = Variant()
        return Decision(name, variant, "provider", settings=settings)

    async def exhaust(self, name: str, budget: str, retry_after: float | None) -> bool:
        return False  # the provider owns the flag: a budget refusal stays a refusal

    async def aclose(self) -> None:
        if self._started:
            self.provider.shutdown()
