"""``/healthz`` (the process answers) and ``/readyz`` (routes usable and stores reachable)."""

from __future__ import annotations

import asyncio
import importlib.util
import time
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
        "state": await _state(ctx),
    }
    ping = getattr(ctx.keys, "ping", None)
    if ping is not None:
        checks["keys"] = await _reachable(ping())
    ready = (
        not ctx.draining
        and not unusable
        and bool(ctx.gateway.config.models)
        and all(_serves(checks[name]) for name in ("state", "keys") if name in checks)
    )
    if ctx.draining:
        checks["server"] = "draining"
    status = "ready" if ready else "not_ready"
    await ex.respond(200 if ready else 503, orjson.dumps({"status": status, "checks": checks}))


def _serves(check: Any) -> bool:
    return check == "ok" or (isinstance(check, dict) and check.get("status") == "degraded")


async def _state(ctx: ApiContext) -> Any:
    """``ok``; or, while the shared store is away, ``degraded`` and what each concern does meanwhile
    (the process stays ready: every concern has a policy that serves)."""
    outage = ctx.gateway.state_outage
    if outage is None:
        return await _reachable(ctx.gateway.breakers.snapshot("keel:readyz"))
    if outage.should_try():
        try:
            await asyncio.wait_for(ctx.gateway.counters.read(["keel:readyz"]), _STORE_TIMEOUT_S)
        except Exception as error:  # any failure to answer is the outage
            outage.lost(error)
        else:
            outage.back()
    if not outage.away:
        return "ok"
    return {
        "status": "degraded",
        "since_s": round(time.monotonic() - (outage.since or 0.0), 3),
        "breakers": "in this process",
        "rate_limits": f"in this process, 1/{_share(ctx)} of each limit",
        "budgets": "fail_closed: budgeted calls refused with budget_state_unavailable",
    }


def _share(ctx: ApiContext) -> int:
    """How many parts each rate limit is split into while the state store is away."""
    return int(getattr(ctx.gateway.limit_counters, "share", 1))


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
