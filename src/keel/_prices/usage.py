"""Provider usage objects normalised to Keel's ``Usage``: every input token in ``input_tokens``,
every output token (reasoning included) in ``output_tokens``, the cache and reasoning classes as parts.

OpenAI's chat shape already is this (``Usage.from_openai``). Anthropic's ``input_tokens`` leaves out
the tokens read from and written to the cache, and Gemini's ``candidatesTokenCount`` leaves out the
thinking tokens, so each is added back here — as genai-prices' own extractors for those shapes do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import Usage

__all__ = ["CACHE_WRITE_1H", "usage_from_anthropic", "usage_from_gemini"]

# The part of ``cache_write_tokens`` written with Anthropic's one-hour TTL (priced higher than the
# default five minutes). ``Usage`` has no field for it yet, so it travels as an extra field.
CACHE_WRITE_1H = "cache_write_1h_tokens"


def usage_from_anthropic(raw: Mapping[str, Any] | None) -> Usage | None:
    """Keel's usage from Anthropic's Messages ``usage`` (``input_tokens`` excludes cache reads and writes)."""
    if not raw:
        return None
    uncached = _count(raw, "input_tokens")
    cache_read = _count(raw, "cache_read_input_tokens")
    cache_write = _count(raw, "cache_creation_input_tokens")
    output = _count(raw, "output_tokens")
    usage = Usage(
        input_tokens=uncached + cache_read + cache_write,
        output_tokens=output,
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=_count(raw.get("output_tokens_details") or {}, "thinking_tokens"),
    )
    one_hour = _count(raw.get("cache_creation") or {}, "ephemeral_1h_input_tokens")
    if one_hour:
        setattr(usage, CACHE_WRITE_1H, one_hour)
    return usage


def usage_from_gemini(raw: Mapping[str, Any] | None) -> Usage | None:
    """Keel's usage from Gemini's ``usageMetadata`` (thinking is reported apart from the candidates)."""
    if not raw:
        return None
    thoughts = _count(raw, "thoughtsTokenCount")
    return Usage(
        input_tokens=_count(raw, "promptTokenCount") + _count(raw, "toolUsePromptTokenCount"),
        output_tokens=_count(raw, "candidatesTokenCount") + thoughts,
        cached_input_tokens=_count(raw, "cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def _count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
