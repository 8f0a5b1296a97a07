"""OpenAI Chat Completions wire shapes: completion, stream chunk, usage, error, SSE frame."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

__all__ = [
    "DONE",
    "FINGERPRINT",
    "chunk",
    "completion",
    "error_body",
    "new_id",
    "sse",
    "usage",
]

DONE = b"data: [DONE]\n\n"
FINGERPRINT = "fp_keelmock"


def new_id(prefix: str) -> str:
    """A unique id in OpenAI's style, e.g. ``chatcmpl-…``, ``call_…``, ``req_mock_…``."""
    return prefix + secrets.token_hex(12)


def usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """The ``usage`` object; ``completion`` already includes ``reasoning``, as OpenAI reports it."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion(
    *,
    id: str,
    created: int,
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any],
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object with one choice."""
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def chunk(
    *,
    id: str,
    created: int,
    model: str,
    delta: dict[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    include_usage: bool = False,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; with ``delta=None`` it is the usage-only chunk (``choices: []``)."""
    body: dict[str, Any] = {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if include_usage:
        # OpenAI sends "usage": null on every chunk but the last once usage is requested.
        body["usage"] = usage
    return body


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> bytes:
    """OpenAI's error shape ``{"error": {"message", "type", "param", "code"}}``, serialised."""
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})


def sse(payload: dict[str, Any]) -> bytes:
    """One server-sent event frame carrying ``payload`` as JSON."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"
