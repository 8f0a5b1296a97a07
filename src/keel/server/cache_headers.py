"""The response headers that say how the cache and coalescing answered a call.

``x-keel-cache``: ``hit``, ``miss`` or ``refresh`` (the caller sent ``Cache-Control: no-cache``),
absent when the call was not cacheable; on a hit ``x-keel-cache-age`` (whole seconds) and, for a
near-duplicate prompt, ``x-keel-cache-kind: semantic`` with ``x-keel-cache-similarity``.
``x-keel-coalesced: true`` when the call shared another caller's upstream call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import Headers

__all__ = ["cache_headers"]


def cache_headers(options: Mapping[str, Any]) -> Headers:
    status = options.get("cache_status")
    headers: Headers = []
    if status is not None:
        headers.append((b"x-keel-cache", str(status).encode()))
    cache = options.get("cache_info")
    if status == "hit" and cache is not None:
        headers.append((b"x-keel-cache-age", str(int(cache.age_s)).encode()))
        if cache.kind == "semantic":
            headers.append((b"x-keel-cache-kind", b"semantic"))
            headers.append((b"x-keel-cache-similarity", f"{cache.similarity:.4f}".encode()))
    if options.get("coalesced"):
        headers.append((b"x-keel-coalesced", b"true"))
    return headers
