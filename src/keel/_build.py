"""Config to objects: providers by name, and routes with their capabilities and timeouts resolved."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .config import Config, DeploymentConfig, ProviderConfig, TimeoutsConfig
from .formats.anthropic_structured import supports_native_structured_output
from .providers.anthropic import ANTHROPIC_CAPABILITIES, AnthropicProvider
from .providers.local import LocalProvider
from .providers.openai import OpenAIProvider
from .providers.profiles import get_profile
from .route import Capabilities, Cascade, Route, Tier, Timeouts

if TYPE_CHECKING:
    from .providers.base import Provider

__all__ = ["build_provider", "build_providers", "build_route", "cascades_from_config"]

# The capabilities a deployment in keel.yaml may override (its profile's are the defaults).
_OVERRIDABLE = (
    "context_window",
    "max_output_tokens",
    "supports_prefill",
    "supports_json_schema",
    "native_structured_output",
    "supports_tools",
)


def build_providers(config: Config) -> dict[str, Provider]:
    """One provider object (one connection pool) per configured provider."""
    return {name: build_provider(name, settings) for name, settings in config.providers.items()}


def build_provider(name: str, settings: ProviderConfig) -> Provider:
    """The provider object for one ``providers:`` entry; it opens its connections on first use."""
    if settings.kind == "local":
        return LocalProvider(name, model_path=settings.model_path, context_window=settings.context_window)
    if settings.kind == "anthropic":
        return AnthropicProvider(
            name,
            base_url=settings.base_url,
            api_key=settings.api_key,
            headers=settings.headers,
            api_version=settings.api_version,
        )
    return OpenAIProvider(
        name,
        base_url=settings.base_url,
        api_key=settings.api_key,
        profile=settings.profile or "openai",
        headers=settings.headers,
        api_version=settings.api_version,
    )


def cascades_from_config(config: Config, providers: dict[str, Provider]) -> dict[str, Cascade]:
    return {
        name: Cascade(
            name, [Tier([_route(config, providers, deployment) for deployment in tier]) for tier in tiers]
        )
        for name, tiers in config.models.items()
    }


def build_route(config: Config, providers: dict[str, Provider], provider: str, model: str) -> Route:
    """A route for ``provider/model`` with nothing but the defaults (used for direct names)."""
    return _route(config, providers, DeploymentConfig(provider=provider, model=model))


def _route(config: Config, providers: dict[str, Provider], deployment: DeploymentConfig) -> Route:
    settings = config.providers[deployment.provider]
    provider = providers[deployment.provider]
    if settings.kind == "local":
        base = Capabilities(
            context_window=getattr(provider, "context_window", None) or settings.context_window,
            max_output_tokens=2048,
            supports_prefill=True,
            schema_grammar=True,
            compact_grammar=True,
            supports_tools=False,
        )
        upstream = deployment.model or "smollm2-135m-instruct"
    elif settings.kind == "anthropic":
        upstream = deployment.model or ""
        native = supports_native_structured_output(upstream)
        base = replace(ANTHROPIC_CAPABILITIES, native_structured_output=native)
    else:
        base = get_profile(settings.profile or "openai").capabilities
        upstream = deployment.model or ""
    overrides = {field: value for field in _OVERRIDABLE if (value := getattr(deployment, field)) is not None}
    return Route(
        name=f"{deployment.provider}/{upstream}",
        provider=provider,
        upstream_model=upstream,
        weight=deployment.weight,
        capabilities=replace(base, **overrides),
        timeouts=_timeouts(config.timeouts, settings.timeouts, deployment.timeouts),
    )


def _timeouts(top: TimeoutsConfig, *layers: TimeoutsConfig | None) -> Timeouts:
    """A route's timeouts: the top level's, then each field its provider, then its deployment, gives;
    ``total`` is the call's, so only the top level's counts."""
    given = top.model_dump()
    for layer in layers:
        if layer is not None:
            given.update(layer.model_dump(include=layer.model_fields_set - {"total"}))
    return Timeouts(**given)
