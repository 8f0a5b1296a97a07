"""The changes ``keel flags`` and the admin API make to a flag, as functions of the flag as stored.

Each takes the flag as it is (None: no such flag) and returns it as it should be; ``FlagRegistry.change``
applies one by compare-and-set and records it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from ..errors import FlagError, FlagNotFoundError
from .flag import Flag, layout_rollout

__all__ = ["Edit", "enable", "kill", "parse_rollout", "rollout", "set_spec"]

Edit = Callable[[Flag | None], Flag | None]


def set_spec(name: str, spec: Mapping[str, Any]) -> Edit:
    """Create the flag from ``spec`` or change the fields ``spec`` gives (variants, rules, rollout,
    default, fallback, enabled); the rollout's buckets are laid out from the ones before."""

    def edit(current: Flag | None) -> Flag:
        unknown = sorted(set(spec) - {"variants", "rules", "rollout", "default", "fallback", "enabled"})
        if unknown:
            raise FlagError(f"{unknown[0]}: not a flag field", param=unknown[0])
        data: dict[str, Any] = current.model_dump(mode="json") if current is not None else {"name": name}
        data.update(spec)
        if spec.get("enabled"):
            data["off_until"] = data["off_reason"] = None
        data["layout"] = layout_rollout(current.layout if current else None, dict(data.get("rollout") or {}))
        return _valid(data)

    return edit


def rollout(name: str, weights: Mapping[str, float]) -> Edit:
    """Set the percentages (variant: percent); callers already in a variant stay there as it grows."""

    def edit(current: Flag | None) -> Flag:
        flag = _existing(name, current)
        data = flag.model_dump(mode="json")
        data["rollout"] = dict(weights)
        data["layout"] = layout_rollout(flag.layout, dict(weights))
        return _valid(data)

    return edit


def kill(name: str) -> Edit:
    """Turn the flag off for everyone (its fallback is served, else calls are refused)."""
    return lambda current: _existing(name, current).model_copy(update={"enabled": False})


def enable(name: str) -> Edit:
    """Turn the flag on again (also after its budget turned it off)."""
    return lambda current: _existing(name, current).model_copy(
        update={"enabled": True, "off_until": None, "off_reason": None}
    )


def parse_rollout(text: str, flag: Flag | None = None) -> dict[str, float]:
    """``10`` (the only non-default variant, or ``on``), ``new:10`` or ``a:10,b:5``."""
    try:
        if ":" not in text:
            variants = [v for v in (flag.variants if flag else ["on"]) if flag is None or v != flag.default]
            if len(variants) != 1:
                raise FlagError(f"{text!r}: name the variant (variant:percent), the flag has several")
            return {variants[0]: float(text.rstrip("%"))}
        pairs = [part.split(":") for part in text.split(",") if part.strip()]
        return {variant.strip(): float(share.rstrip("%")) for variant, share in pairs}
    except ValueError:
        raise FlagError(f"{text!r}: a percentage (10) or variant:percent pairs (new:10,other:5)") from None


def _existing(name: str, current: Flag | None) -> Flag:
    if current is None:
        raise FlagNotFoundError(f"no feature flag named {name!r}", param="name")
    return current


def _valid(data: dict[str, Any]) -> Flag:
    try:
        return Flag.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "flag"
        raise FlagError(f"{where}: {first['msg']}", param=where) from None
