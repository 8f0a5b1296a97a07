"""Who is calling: virtual keys and the master key through ``keel.server.auth``, as a 401 when neither.

With no master key configured, auth is off (the embedded default) and every caller may use every
model; with one, the ``Principal`` says which models the caller may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import SecretStr

from ..policies._cache_key import tenant
from .auth import AuthFailed, Principal, authenticate
from .errors import ApiError

__all__ = ["identify", "may_use", "tenant_of"]


async def identify(headers: Mapping[str, str], keys: Any, master_key: SecretStr | None) -> Principal | None:
    """The caller, ``None`` when auth is off.

    Raises:
        ApiError: 401 in OpenAI's shape when the request carries no valid key.
    """
    if master_key is None:
        return None
    try:
        return await authenticate(headers, keys, master_key)
    except AuthFailed as failure:
        raise ApiError(
            401,
            failure.message or "invalid API key",
            code="invalid_api_key",
            headers=[(b"www-authenticate", b'Bearer realm="keel"')],
        ) from None


def may_use(caller: Principal | None, model: str) -> bool:
    return caller is None or caller.allows_model(model)


def tenant_of(caller: Principal | None, scope: Literal["key", "team"]) -> str:
    """Whose cache entries the caller shares: its key's (or team's), as for chat calls."""
    return tenant(caller.key_id, caller.team, scope) if caller is not None else "anonymous"
