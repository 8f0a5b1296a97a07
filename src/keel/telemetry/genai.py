"""The GenAI semantic conventions' names, and the two client instruments Keel records per attempt.

``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` observe each attempt sent
upstream (an operation of Keel as a GenAI client) when it ends, with the conventions' attributes
and the buckets they advise; an attempt refused before it was sent is no operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..providers.base import Provider
    from ..types import Attempt

__all__ = ["GenAIInstruments", "error_type", "provider_name"]

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # the older name of gen_ai.provider.name, still read by many backends
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"  # the content attributes: with capture.content only
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"

_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [4**n for n in range(14)]  # 1 … 67,108,864

# Keel's profile and provider names as the conventions spell the well-known systems.
_WELL_KNOWN = {"azure": "azure.ai.openai", "gemini": "gcp.gemini", "mistral": "mistral_ai"}


def provider_name(provider: Provider) -> str:
    """``gen_ai.provider.name`` of a route's provider: its wire dialect (``openai``, ``anthropic``,
    a profile such as ``vllm``), never the operator's name for it."""
    profile = getattr(provider, "profile", None)
    if profile is not None:
        return _WELL_KNOWN.get(profile.name, profile.name)
    kind = type(provider).__name__.removesuffix("Provider").lower()
    return _WELL_KNOWN.get(kind, kind)


def error_type(attempt: Attempt) -> str | None:
    """The attempt's ``error.type``: its outcome in DESIGN's words (``rate_limited``, ``timeout``…),
    None when it answered."""
    return None if attempt.outcome in ("ok", "streaming", "pending") else attempt.outcome


class GenAIInstruments:
    """The two client histograms on ``meter``."""

    def __init__(self, meter: Any) -> None:
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )

    def record(self, attempt: Attempt, provider: str) -> None:
        """Observe one ended attempt: its duration, and its input and output tokens when known."""
        attributes: dict[str, Any] = {OPERATION: "chat", PROVIDER: provider, REQUEST_MODEL: attempt.model}
        error = error_type(attempt)
        if error is not None:
            attributes[ERROR_TYPE] = error
        self.duration.record(attempt.duration_s, attributes)
        usage = attempt.usage
        if usage is not None:
            self.tokens.record(usage.input_tokens, {**attributes, TOKEN_TYPE: "input"})
            self.tokens.record(usage.output_tokens, {**attributes, TOKEN_TYPE: "output"})
