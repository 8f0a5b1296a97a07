"""The canonical shapes' readers of provider formats."""

from __future__ import annotations

from keel.types import Usage


def test_usage_from_anthropic_counts_cache_reads_and_writes_as_input() -> None:
    """Anthropic's input excludes the cache; canonical input is uncached + read + write, each class kept."""
    usage = Usage.from_anthropic(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 200,
            "cache_creation_input_tokens": 30,
            "output_tokens": 7,
            "output_tokens_details": {"thinking_tokens": 4},
        }
    )
    assert usage == Usage(
        input_tokens=240, output_tokens=7, cached_input_tokens=200, cache_write_tokens=30, reasoning_tokens=4
    )


def test_usage_from_anthropic_tolerates_missing_and_null_fields() -> None:
    """No usage is None; absent or null cache fields (older responses, message_delta) count as 0."""
    assert Usage.from_anthropic(None) is None
    assert Usage.from_anthropic({}) is None
    usage = Usage.from_anthropic({"input_tokens": 5, "cache_read_input_tokens": None, "output_tokens": 2})
    assert usage == Usage(input_tokens=5, output_tokens=2)
