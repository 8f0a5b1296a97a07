"""An upper bound on a request's input tokens, with the model's tokenizer or without (DESIGN §2).

A byte-level BPE token covers at least one byte, so the UTF-8 length of every string the model will
read bounds the tokens it makes. Where the route's own tokenizer is at hand (``tokenizer.py``), each
string counts its tokens instead, plus one: a provider tokenizes each message's text on its own
between special tokens, and the extra token covers a merge lost or gained where it renders two
strings side by side. Keys and role names count as well, though a chat format renders them as the
special tokens ``PER_MESSAGE`` already counts. To that the bound adds what carries no bytes of the
request: the special tokens framing each message, the instructions a provider wraps tool definitions
and schemas in, and images, which are priced by their pixels rather than by the bytes of their URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import ChatRequest
from .tokenizer import LONGEST, TokenCounter

__all__ = ["IMAGE_TOKENS", "input_token_bound"]

PER_REQUEST = 16
"""Tokens that open the conversation and prime the reply."""
PER_MESSAGE = 8
"""Special tokens around one message (role markers, separators)."""
TOOLS = 1_000
"""The tool-use instructions a provider adds when tools are offered (Anthropic documents ~350)."""
RESPONSE_FORMAT = 200
"""The instructions a provider adds around a structured-output schema."""
IMAGE_TOKENS = 50_000
"""One image, at most: gpt-4o-mini bills a 2048x768 high-detail image as 48,169 tokens."""

# Request fields that are settings, not text the model reads; any other field is counted.
_SETTINGS = frozenset(
    {
        "model", "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop",
        "stop_sequences", "seed", "n", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
        "top_logprobs", "user", "stream", "stream_options", "metadata", "service_tier", "store",
        "parallel_tool_calls", "reasoning_effort", "thinking", "modalities", "prediction", "keel",
    }
)  # fmt: skip
_IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})


def input_token_bound(
    request: ChatRequest, *, image_tokens: int = IMAGE_TOKENS, count: TokenCounter | None = None
) -> int:
    """At least as many input tokens as any provider will bill for ``request``.

    Counts the body the upstream will see: the client's native body when it is passed through, else
    the canonical request. Strings count their UTF-8 bytes, or with ``count`` (the route's own
    tokenizer) their tokens plus one, as do mapping keys, which tool schemas turn into text; each
    image counts ``image_tokens``.
    """
    body = request.native if request.native is not None else request.wire()
    size = _utf8 if count is None else _counted(count)
    tokens = PER_REQUEST
    for key, value in body.items():
        if key in _SETTINGS:
            continue
        tokens += size(key) + _bound(value, image_tokens, size)
        if key in ("messages", "input") and isinstance(value, list):
            tokens += PER_MESSAGE * len(value)
        elif key in ("tools", "functions") and value:
            tokens += TOOLS
        elif key == "response_format" and value:
            tokens += RESPONSE_FORMAT
    return tokens


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def _counted(count: TokenCounter) -> TokenCounter:
    """Tokens plus one per string; a string too long to tokenize cheaply counts its bytes."""
    return lambda text: count(text) + 1 if len(text) <= LONGEST else len(text.encode("utf-8"))


def _bound(value: Any, image_tokens: int, size: TokenCounter) -> int:
    if isinstance(value, str):
        return size(value)
    if isinstance(value, Mapping):
        if value.get("type") in _IMAGE_PARTS:
            return image_tokens
        return sum(size(str(key)) + _bound(item, image_tokens, size) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sum(_bound(item, image_tokens, size) for item in value)
    if value is None:
        return 0
    return len(str(value))
