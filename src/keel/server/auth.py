"""Who is calling: the API key a request carries, checked against the master key and the key store.

Clients send the key as ``Authorization: Bearer <key>`` (the OpenAI SDK) or ``x-api-key: <key>``
(the Anthropic SDK). Without a master key, authentication is off and every caller is anonymous;
with one, a caller presents either it or a live virtual key. The master key is compared in
constant time; a virtual key is found by its SHA-256 hash, so the secret never reaches the store
or a log. Refusals carry messages safe to show the client: they never echo the key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pydantic import SecretStr

from ..keys import VirtualKey, hash_key, looks_like_key, models_allow
from ..stores.base import KeyStore
from ..telemetry.logs import get_logger

__all__ = ["AuthFailed", "Principal", "authenticate", "is_master_key", "presented_key"]

log = get_logger("keel.auth")

_EMPTY: Mapping[str, str] = MappingProxyType({})


class AuthFailed(Exception):
    """The request is not authenticated; ``message`` is safe to show the client (no key material)."""

    status = 401
    code = "invalid_api_key"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


MISSING = "missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'"
INVALID = "invalid API key"
REVOKED = "API key revoked"
EXPIRED = "API key expired"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the operator (master key), a virtual key's holder, or anyone (auth off)."""

    kind: Literal["master", "virtual", "anonymous"]
    key_id: str | None = None
    name: str | None = None
    team: str | None = None
    models: tuple[str, ...] | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def allows_model(self, model: str) -> bool:
        """Whether this caller may ask for ``model`` (the name the client sent)."""
        return models_allow(self.models, model)

    @classmethod
    def of_key(cls, key: VirtualKey) -> Principal:
        return cls("virtual", key.id, key.name, key.team, key.models, key.metadata)


ANONYMOUS = Principal("anonymous")
MASTER = Principal("master", name="master")


async def authenticate(
    headers: Mapping[str, str], keys: KeyStore | None, master_key: SecretStr | None
) -> Principal:
    """The principal behind a request's headers.

    Args:
        headers: the request headers (lower-case names as ASGI gives them; other cases are found too).
        keys: the virtual-key store, or ``None`` if only the master key is accepted.
        master_key: the operator's key; ``None`` turns authentication off.

    Raises:
        AuthFailed: no key, an unknown key, or a revoked or expired virtual key.
    """
    if master_key is None:
        return ANONYMOUS
    given = presented_key(headers)
    if not given:
        raise AuthFailed(MISSING)
    if is_master_key(given, master_key):
        return MASTER
    if keys is None or not looks_like_key(given):
        raise AuthFailed(INVALID)
    record = await keys.find_by_hash(hash_key(given))
    if record is None:
        raise AuthFailed(INVALID)
    status = record.status()
    if status != "active":
        log.info("api key refused", key_id=record.id, reason=status)
        raise AuthFailed(REVOKED if status == "revoked" else EXPIRED)
    return Principal.of_key(record)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The bearer token of ``Authorization``, else ``x-api-key``; ``None`` when neither is given."""
    authorization = _header(headers, "authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = _header(headers, "x-api-key")
    return api_key.strip() or None if api_key else None


def is_master_key(given: str, master_key: SecretStr) -> bool:
    """Constant-time comparison; digests first, so not even the master key's length leaks."""
    expected = _digest(master_key.get_secret_value())
    return hmac.compare_digest(hashlib.blake2b(given.encode(), digest_size=32).digest(), expected)


@functools.lru_cache(maxsize=4)
def _digest(secret: str) -> bytes:
    # BLAKE2b: built into Python, without OpenSSL's per-call setup; only compared, never stored.
    return hashlib.blake2b(secret.encode(), digest_size=32).digest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, item in headers.items():
            if key.lower() == name:
                return item
    return value
