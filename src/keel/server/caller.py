"""Who is calling: the hook into ``keel.server.auth`` (virtual keys), and the answer when it is absent.

With no master key configured, auth is off (the embedded default) and every caller may use every
model. With one, ``keel.server.auth.authenticate`` decides and its ``Principal`` says which models
the caller may use; until that module is installed, only the master key itself is accepted.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import SecretStr

from .errors import ApiError

__all__ = ["Caller", "identify", "may_use"]

_UNSET: Any = object()
_AUTH: Any = _UNSET


class Caller(Protocol):
    """What the server needs of a ``keel.server.auth.Principal``."""

    def allows_model(self, model: str) -> bool: ...


class _Master:
    """The operator, holding the master key: every model."""

    def allows_model(self, model: str) -> bool:
        return True


async def identify(headers: Mapping[str, str], keys: Any, master_key: SecretStr | None) -> Caller | None:
    """The caller, ``None`` when auth is off.

    Raises:
        ApiError: 401 in OpenAI's shape when the request carries no valid key.
    """
    if master_key is None:
        return None
    auth = _auth_module()
    if auth is None:
        return _master_only(headers, master_key)
    try:
        principal: Caller = await auth.authenticate(headers, keys, master_key)
    except auth.AuthFailed as failure:
        raise _unauthorized(str(failure) or "invalid API key") from None
    return principal


def _auth_module() -> Any:
    """``keel.server.auth`` when it is installed (imported once), else None."""
    global _AUTH
    if _AUTH is _UNSET:
        try:
            _AUTH = importlib.import_module("keel.server.auth")
        except ImportError:
            _AUTH = None
    return _AUTH


def may_use(caller: Caller | None, model: str) -> bool:
    return caller is None or caller.allows_model(model)


def _master_only(headers: Mapping[str, str], master_key: SecretStr) -> Caller:
    token = _bearer(headers)
    if token is None or not hmac.compare_digest(token.encode(), master_key.get_secret_value().encode()):
        raise _unauthorized("invalid API key")
    return _Master()


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key") or None


def _unauthorized(reason: str) -> ApiError:
    return ApiError(
        401,
        f"{reason}: send 'Authorization: Bearer <your Keel key>'",
        code="invalid_api_key",
        headers=[(b"www-authenticate", b'Bearer realm="keel"')],
    )
