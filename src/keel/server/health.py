"""``/healthz`` (the process answers) and ``/readyz`` (routes usable and stores reachable)."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import orjson

from ..providers.profiles import PROFILES
from .context import ApiContext
from .exchange import Exchange

__all__ = ["healthz", "provider_problems", "readyz"]

_STORE_TIMEOUT_S = 1.0


async def healthz(ctx: ApiContext, ex: Exchange) -> None:
    """200 while the process serves requests."""
    await ex.respond(200, b'{"status":"ok"}')


async def readyz(ctx: ApiContext, ex: Exchange) -> None:
    """200 when every model has a usable route and the state store answers; else 503 saying why."""
    problems = provider_problems(ctx)
    unusable = [
        name
        for name, tiers in ctx.gateway.config.models.items()
        if all(deployment.provider in problems for tier in tiers for deployment in tier)
    ]
    checks: dict[str, Any] = {
        "models": {"configured": len(ctx.gateway.config.models), "without_usable_route": unusable},
        "providers": {name: problems.get(name, "ok") for name in ctx.gateway.config.providers},
        "state": await _reachable(ctx.gateway.breakers.snapshot("keel:readyz")),
    }
    ping = getattr(ctx.keys, "ping", None)
    if ping is not None:
        checks["keys"] = await _reachable(ping())
    ready = (
        not ctx.draining
        and not unusable
        and bool(ctx.gateway.config.models)
        and all(checks[name] == "ok" for name in ("state", "keys") if name in checks)
    )
    if ctx.draining:
        checks["server"] = "draining"
    status = "ready" if ready else "not_ready"
    await ex.respond(200 if ready else 503, orjson.dumps({"status": status, "checks": checks}))


def provider_problems(ctx: ApiContext) -> dict[str, str]:
    """Providers that cannot serve as configured, and why (no key, the local model not installed)."""
    problems: dict[str, str] = {}
    for name, settings in ctx.gateway.config.providers.items():
        if settings.kind == "local":
            if importlib.util.find_spec("xllamacpp") is None:
                problems[name] = "local model not installed (pip install 'keel[local]')"
            continue
        profile = PROFILES.get(settings.profile or "openai")
        if profile is not None and profile.needs_key and settings.api_key is None:
            problems[name] = "no api_key"
    return problems


async def _reachable(probe: Any) -> str:
    try:
        async with asyncio.timeout(_STORE_TIMEOUT_S):
            await probe
    except Exception as error:
        return f"unreachable: {type(error).__name__}"
    return "ok"
