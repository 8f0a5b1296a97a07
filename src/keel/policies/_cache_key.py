"""Which calls may be cached or shared, and the canonical key that says two calls are the same call.

The key is a hash of the tenant, the model name the caller used, the messages and every request
field that can change the output (DESIGN §2) — never the raw payload. Fields that cannot change the
answer (``stream``, ``stream_options``, ``user``, ``metadata``, ``store``) are left out, so a
streamed and a complete request share an entry; every other field, known or not, is in the key, so
an unknown parameter can only make two calls differ, never collide.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

import orjson

if TYPE_CHECKING:
    from ..call import Call
    from ..types import ChatRequest

__all__ = ["clear_pattern", "count_key", "eligible", "entry_key", "request_material", "tenant", "tenant_of"]

_VERSION = 1
_NO_EFFECT = frozenset({"model", "stream", "stream_options", "user", "metadata", "store"})


def eligible(call: Call) -> bool:
    """Deterministic calls (temperature 0, or a seed) unless the caller opted in or out."""
    choice = call.options.get("cache")
    if choice is not None:
        return bool(choice)
    request = call.request
    return request.temperature == 0 or request.seed is not None


def tenant_of(call: Call, scope: Literal["key", "team"]) -> str:
    """Who may share an entry: the caller's key (or team); a key without a team is its own tenant."""
    return tenant(call.options.get("key_id"), call.options.get("team"), scope)


def tenant(key_id: str | None, team: str | None, scope: Literal["key", "team"]) -> str:
    """``tenant_of`` for a key id and team."""
    if scope == "team" and team:
        return f"team:{team}"
    if key_id:
        return f"key:{key_id}"
    return "anonymous"


def request_material(request: ChatRequest) -> dict[str, Any]:
    """The request fields that can change the answer, as plain JSON values."""
    return {name: value for name, value in request.wire().items() if name not in _NO_EFFECT}


def _digest(value: Any, size: int = 16) -> str:
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(data, digest_size=size).hexdigest()


def _tag(text: str) -> str:
    """A short hex name for a model or tenant, so keys hold no glob characters and no raw names."""
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def entry_key(request: ChatRequest, tenant: str, validation: str = "") -> str:
    """``cache:<model>:<tenant>:{<digest>}``: the digest is the hash tag an entry and its lease share.
    ``validation`` is what an enforced structured output adds (its re-asks and validators)."""
    material = [_VERSION, tenant, request.model, request_material(request)]
    digest = _digest([*material, validation] if validation else material)
    return f"cache:{_tag(request.model)}:{_tag(tenant)}:{{{digest}}}"


def count_key(model: str, tenant: str, body: dict[str, Any], beta: str | None) -> str:
    """The entry of a token count: the same shape as a chat entry's (so ``clear_pattern`` finds it),
    over the whole body and the beta features, which can change the count."""
    digest = _digest([_VERSION, "count_tokens", tenant, model, body, beta or ""])
    return f"cache:{_tag(model)}:{_tag(tenant)}:{{{digest}}}"


def clear_pattern(model: str | None = None, tenant: str | None = None) -> str:
    """The glob that matches the entries of one model and/or one tenant (all entries with neither)."""
    model_part = _tag(model) if model else "*"
    tenant_part = _tag(tenant) if tenant else "*"
    return f"cache:{model_part}:{tenant_part}:*"
