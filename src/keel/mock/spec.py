"""The requested model name read as a behaviour and its parameters: ``<behaviour>[:k=v,k=v]``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BEHAVIOURS", "PARAMS", "ParamError", "Spec", "model_name", "parse_model"]

BEHAVIOURS: tuple[str, ...] = (
    "ok",
    "rate-limit",
    "error-500",
    "error-503",
    "overloaded",
    "reset",
    "hang",
    "slow-first-token",
    "cut",
    "stall",
    "malformed-chunk",
    "no-done",
    "context-length",
    "content-policy",
    "no-prefill",
    "no-grammar",
    "flap",
    "auth-error",
    "not-found",
    "json-fenced",
    "json-prose",
    "json-repairable",
    "json-invalid",
    "json-wrong-type",
    "json-missing-field",
    "json-truncated",
    "json-bad-urls",
    "refusal",
)

# Every parameter a behaviour reads, with its type; others (such as ``id``) are only part of the name.
PARAMS: dict[str, str] = {
    "tokens": "integer",
    "forbidden_at": "integer",
    "leak_at": "integer",
    "times": "integer",
    "after": "integer",
    "reasoning_tokens": "integer",
    "cached_tokens": "integer",
    "cache_write_tokens": "integer",
    "context": "integer",
    "prompt_limit": "integer",
    "ttft_ms": "number",
    "token_ms": "number",
    "linger_ms": "number",
    "hang_ms": "number",
    "stall_ms": "number",
    "down_ms": "number",
    "period_ms": "number",
    "retry_after": "number",
    "retry_after_date": "flag",
    "ms_header": "flag",
    "trailing_space": "flag",
    "usage": "flag",
    "quote": "flag",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ParamError(ValueError):
    """A model-name parameter that cannot be read as the type its behaviour needs."""


@dataclass(frozen=True)
class Spec:
    """What one requested model name asks the mock to do."""

    model: str
    behaviour: str
    params: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether the model name sets ``name``."""
        return name in self.params

    def check(self) -> None:
        """Raise ParamError now for any known parameter of the wrong type, before a reply starts."""
        for name, kind in PARAMS.items():
            getattr(self, kind)(name)

    def integer(self, name: str, default: int | None = None) -> int | None:
        """Parameter ``name`` as a non-negative integer, or ``default`` when absent."""
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ParamError(f"mock parameter {name!r} must be an integer, got {raw!r}") from None
        if value < 0:
            raise ParamError(f"mock parameter {name!r} must not be negative, got {raw!r}")
        return value

    def number(self, name: str, default: float | None = None) -> float | None:
        """Parameter ``name`` as a non-negative number, or ``default`` when absent."""
        raw = self.params.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ParamError(f"mock parameter {name!r} must be a number, got {raw!r}") from None
        if not value >= 0:  # also refuses NaN
            raise ParamError(f"mock parameter {name!r} must not be negative, got {raw!r}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """Parameter ``name`` as a boolean (``1``/``true``/``yes`` or ``0``/``false``/``no``)."""
        raw = self.params.get(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ParamError(f"mock parameter {name!r} must be a boolean, got {raw!r}")


def parse_model(model: str) -> Spec:
    """Read a model name; a name that is not a listed behaviour (``gpt-4o``) behaves as ``ok``.

    The suffix after the first ``:`` is read as parameters only when every comma-separated item
    is ``key=value``, so provider names with colons (``ft:gpt-4o:org:id``) stay plain names.
    """
    head, _, tail = model.partition(":")
    behaviour = head if head in BEHAVIOURS else "ok"
    params: dict[str, str] = {}
    items = [item for item in tail.split(",") if item.strip()] if tail else []
    if items and all("=" in item for item in items):
        for item in items:
            key, _, value = item.partition("=")
            params[key.strip()] = value.strip()
    return Spec(model=model, behaviour=behaviour, params=params)


def model_name(behaviour: str, **params: object) -> str:
    """Build a model name, e.g. ``model_name("rate-limit", retry_after=2)`` → ``rate-limit:retry_after=2``."""
    if not params:
        return behaviour
    return behaviour + ":" + ",".join(f"{key}={value}" for key, value in params.items())
