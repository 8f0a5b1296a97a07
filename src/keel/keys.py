"""Virtual keys: the record, how a key is made and hashed, and how a new key's fields are checked.

A virtual key is ``sk-keel-`` followed by 43 URL-safe characters (32 random bytes). Only its SHA-256
hash is stored, with a short hint (``sk-keel-AbCd…wXyZ``) that identifies it in a listing without
revealing it; docs/decisions/0004-virtual-key-hashing.md says why a fast hash is right here. Every
engine builds its records with ``issue_key``, so they all check the same rules.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "BUDGET_WINDOWS",
    "KEY_PREFIX",
    "VirtualKey",
    "hash_key",
    "issue_key",
    "key_budget",
    "key_token_budget",
    "looks_like_key",
    "models_allow",
    "parse_duration",
    "parse_expiry",
    "parse_timestamp",
]

KEY_PREFIX = "sk-keel-"
_RANDOM_BYTES = 32
_MAX_TEXT = 200
_MAX_MODELS = 100
_MAX_METADATA = 50
_MAX_METADATA_VALUE = 1000
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_DURATIONS = re.compile(r"(\d+\s*[smhdw]\s*)+")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
BUDGET_WINDOWS = ("request", "hour", "day", "month", "lifetime")
"""Windows a key's own budget (metadata ``budget_window``) may take; ``month`` when it names none."""

Status = Literal["active", "revoked", "expired"]


@dataclass(frozen=True, slots=True)
class VirtualKey:
    """One issued key as stored: everything but the secret itself.

    ``models`` is ``None`` for every model; otherwise names, where a trailing ``*`` matches any
    suffix (``openai/*``). Times are timezone-aware UTC.
    """

    id: str
    name: str
    key_hash: str
    hint: str
    created_at: datetime
    team: str | None = None
    models: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def status(self, now: datetime | None = None) -> Status:
        """``revoked`` wins over ``expired``; a key is expired from its ``expires_at`` on."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"

    def allows_model(self, model: str) -> bool:
        return models_allow(self.models, model)

    def public(self) -> dict[str, Any]:
        """The record as JSON-ready data for listings: no secret, no hash."""
        return {
            "id": self.id,
            "name": self.name,
            "team": self.team,
            "models": list(self.models) if self.models is not None else None,
            "key_hint": self.hint,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "status": self.status(),
            "metadata": dict(self.metadata),
        }


def models_allow(models: tuple[str, ...] | None, model: str) -> bool:
    """``None`` allows all; otherwise an exact name, or a prefix written with a trailing ``*``."""
    if models is None:
        return True
    return any(model == m or (m.endswith("*") and model.startswith(m[:-1])) for m in models)


def hash_key(secret: str) -> str:
    """The stored form of a key: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(text: str) -> bool:
    """Cheap shape check, so obvious junk never reaches the store."""
    return text.startswith(KEY_PREFIX) and 40 <= len(text) <= 128


def issue_key(
    name: str,
    *,
    team: str | None = None,
    models: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[VirtualKey, str]:
    """A new record and its secret, after checking every field.

    Raises:
        ValueError: a field is empty, too long, of the wrong type, or ``expires_at`` is not in the future.
    """
    now = now or datetime.now(UTC)
    random_part = secrets.token_urlsafe(_RANDOM_BYTES)
    secret = KEY_PREFIX + random_part
    record = VirtualKey(
        id="key_" + secrets.token_hex(8),
        name=_text("name", name),
        key_hash=hash_key(secret),
        hint=f"{KEY_PREFIX}{random_part[:4]}…{random_part[-4:]}",
        created_at=now,
        team=None if team is None else _text("team", team),
        models=_models(models),
        expires_at=_expiry(expires_at, now),
        metadata=_metadata(metadata),
    )
    return record, secret


def key_budget(metadata: Mapping[str, str]) -> tuple[Decimal, str] | None:
    """The key's own budget from its metadata: ``budget_usd`` (USD) over ``budget_window``.

    Raises:
        ValueError: ``budget_usd`` is not a positive amount, or ``budget_window`` is not a window
            (or is given with neither ``budget_usd`` nor ``budget_tokens``).
    """
    amount = metadata.get("budget_usd")
    window = _budget_window(metadata)
    if amount is None or window is None:
        return None
    try:
        usd = Decimal(amount.strip())
    except (InvalidOperation, AttributeError):
        usd = Decimal("NaN")
    if not usd.is_finite() or usd <= 0:
        raise ValueError(f"metadata budget_usd must be a positive USD amount, like 25 or 0.5; not {amount!r}")
    return usd, window


def key_token_budget(metadata: Mapping[str, str]) -> tuple[int, str] | None:
    """The key's own token budget from its metadata: ``budget_tokens`` over ``budget_window``
    (the same window as ``budget_usd``, when the key has both).

    Raises:
        ValueError: ``budget_tokens`` is not a positive whole number, or the window is wrong.
    """
    amount = metadata.get("budget_tokens")
    window = _budget_window(metadata)
    if amount is None or window is None:
        return None
    text = amount.strip().replace("_", "").replace(",", "") if isinstance(amount, str) else ""
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(
            f"metadata budget_tokens must be a positive whole number, like 100000; not {amount!r}"
        )
    return int(text), window


def _budget_window(metadata: Mapping[str, str]) -> str | None:
    """``budget_window`` (default ``month``) when the key has a budget; None when it has none."""
    window = metadata.get("budget_window")
    if metadata.get("budget_usd") is None and metadata.get("budget_tokens") is None:
        if window is not None:
            raise ValueError("metadata budget_window needs budget_usd or budget_tokens beside it")
        return None
    window = window or "month"
    if window not in BUDGET_WINDOWS:
        raise ValueError(f"metadata budget_window must be one of {', '.join(BUDGET_WINDOWS)}; not {window!r}")
    return window


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` or combinations (``1d12h``) as a timedelta."""
    compact = text.strip().lower()
    parts = _DURATION.findall(compact)
    if not parts or _DURATION.sub("", compact).strip():
        raise ValueError(f"{text!r} is not a duration; write e.g. 30d, 12h, 15m or 1d12h")
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in parts))
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """A duration from now (``30d``) or an ISO 8601 date or time (``2026-12-31``, ``2026-12-31T18:00Z``)."""
    if _DURATIONS.fullmatch(text.strip().lower()):
        try:
            return (now or datetime.now(UTC)) + parse_duration(text)
        except OverflowError:
            raise ValueError(f"{text!r} is too long a duration") from None
    return parse_timestamp(text)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date (the start of that day, UTC) or time (UTC unless it names a zone)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30d, 12h) nor a date (2026-12-31, 2026-12-31T18:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(what: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if len(value) > _MAX_TEXT or any(ord(ch) < 32 for ch in value):
        raise ValueError(f"{what} must be at most {_MAX_TEXT} printable characters")
    return value.strip()


def _models(models: Iterable[str] | None) -> tuple[str, ...] | None:
    if models is None:
        return None
    if isinstance(models, str):
        raise ValueError("models must be a list of model names, not one string")
    names = tuple(_text("each model name", m) for m in models)
    if not names:
        raise ValueError("models must name at least one model; leave it out to allow every model")
    if len(names) > _MAX_MODELS:
        raise ValueError(f"models may list at most {_MAX_MODELS} names")
    return tuple(dict.fromkeys(names))


def _expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    try:
        expires_at = expires_at.astimezone(UTC)
    except OverflowError:
        raise ValueError("expires_at is out of range") from None
    if expires_at <= now:
        raise ValueError(f"expires_at {_iso(expires_at)} is not in the future")
    return expires_at


def _metadata(metadata: Mapping[str, str] | None) -> Mapping[str, str]:
    if not metadata:
        return MappingProxyType({})
    if not isinstance(metadata, Mapping):
        raise ValueError("metadata must be an object of string keys to string values")
    if len(metadata) > _MAX_METADATA:
        raise ValueError(f"metadata may hold at most {_MAX_METADATA} entries")
    clean: dict[str, str] = {}
    for key, value in metadata.items():
        _text("each metadata key", key)
        if not isinstance(value, str) or len(value) > _MAX_METADATA_VALUE or "\x00" in value:
            raise ValueError(
                f"metadata[{key!r}] must be a string of at most {_MAX_METADATA_VALUE} characters, without NUL"
            )
        clean[key] = value
    key_budget(clean)
    key_token_budget(clean)
    return MappingProxyType(clean)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
