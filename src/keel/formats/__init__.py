"""Wire formats other than the canonical one, and translation to and from it (OpenAI ⇄ Anthropic)."""

from .anthropic_request import AnthropicRequest, from_anthropic_request, to_anthropic_request
from .anthropic_response import from_anthropic_message, to_anthropic_message
from .anthropic_stream import AnthropicStreamDecoder
from .anthropic_stream_encoder import AnthropicStreamEncoder, sse_frame

__all__ = [
    "AnthropicRequest",
    "AnthropicStreamDecoder",
    "AnthropicStreamEncoder",
    "from_anthropic_message",
    "from_anthropic_request",
    "sse_frame",
    "to_anthropic_message",
    "to_anthropic_request",
]
