"""Default delays of the mock: instant for tests, provider-like for ``keel mock`` by hand."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAST", "REALISTIC", "Timings"]


@dataclass(frozen=True)
class Timings:
    """Delays in milliseconds used when the model name does not set them."""

    ttft_ms: float = 0.0
    token_ms: float = 0.0
    slow_ttft_ms: float = 5000.0
    hang_ms: float = 600_000.0
    stall_ms: float = 600_000.0
    down_ms: float = 3000.0


FAST = Timings()
REALISTIC = Timings(ttft_ms=200.0, token_ms=20.0)
