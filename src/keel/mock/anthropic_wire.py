"""Anthropic Messages wire shapes for the mock: message, usage, stream event frames, error, validation."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["KNOWN_FIELDS", "MALFORMED_FRAME", "error_body", "event", "invalid", "message", "usage"]

# The top-level fields of a Messages request; Anthropic refuses any other ("Extra inputs are not
# permitted"), which is how a gateway's translation leaking an OpenAI field shows up.
KNOWN_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "cache_control",
        "context_management",
        "mcp_servers",
        "output_config",
        "inference_geo",
        "speed",
        "diagnostics",
    }
)
MALFORMED_FRAME = b"event: content_block_delta\ndata: {not json\n\n"


def usage(
    *, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0, thinking: int = 0
) -> dict[str, Any]:
    """Anthropic's usage object: ``input_tokens`` are the uncached ones; cache reads and writes apart."""
    out: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output_tokens,
    }
    if thinking:
        out["output_tokens_details"] = {"thinking_tokens": thinking}
    return out


def message(
    *, id: str, model: str, content: list[dict[str, Any]], stop_reason: str | None, usage: dict[str, Any]
) -> dict[str, Any]:
    """A ``Message`` object (with ``content: []`` and no stop reason, the one ``message_start`` carries)."""
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def event(payload: dict[str, Any]) -> bytes:
    """One SSE frame as Anthropic sends it: ``event: <type>`` then the JSON ``data``."""
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_body(type: str, message: str, request_id: str | None = None) -> bytes:
    """Anthropic's error shape ``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
    return orjson.dumps(
        {"type": "error", "error": {"type": type, "message": message}, "request_id": request_id}
    )


def invalid(body: Any) -> str | None:
    """Why ``body`` is not a Messages request, in Anthropic's wording, or None."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request as JSON."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return (
            "messages: Field required"
            if "messages" not in body
            else "messages: at least one message is required"
        )
    if _prefill_ends_in_whitespace(body["messages"][-1]):
        return "messages: final assistant content cannot end with trailing whitespace"
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        return (
            "max_tokens: Field required" if limit is None else "max_tokens: Input should be a valid integer"
        )
    extra = sorted(set(body) - KNOWN_FIELDS)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    return None


def _prefill_ends_in_whitespace(last: Any) -> bool:
    """True when the conversation ends in an assistant turn whose text ends in whitespace, which the
    Messages API refuses."""
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return False
    content = last.get("content")
    if isinstance(content, list):
        final = content[-1] if content else None
        content = final.get("text") if isinstance(final, dict) and final.get("type") == "text" else None
    return isinstance(content, str) and content != content.rstrip()
