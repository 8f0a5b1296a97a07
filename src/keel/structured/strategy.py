"""How a route is asked for a JSON-schema answer it cannot be asked for directly.

A route with ``supports_json_schema`` gets ``response_format: json_schema`` as sent (OpenAI's strict
mode, a self-hosted server's guided decoding; Anthropic's routes turn it into a forced tool). One
without it gets JSON mode (``json_object``) and the schema in a system message, so the answer is
still JSON and the validate policy checks its shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..types import Message

if TYPE_CHECKING:
    from ..route import Route
    from ..types import ChatRequest

__all__ = ["needs_json_mode", "with_json_mode"]


def needs_json_mode(route: Route, request: ChatRequest) -> bool:
    """Whether ``request`` asks for a JSON schema that ``route`` cannot be given."""
    kind = (request.response_format or {}).get("type")
    return kind == "json_schema" and not route.capabilities.supports_json_schema


def with_json_mode(request: ChatRequest) -> ChatRequest:
    """``request`` in JSON mode, its schema stated in a system message at the start."""
    spec: Any = (request.response_format or {}).get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, dict) else None
    instruction = Message(
        role="system",
        content="Answer with only a JSON value, without prose or code fences, that matches this JSON "
        f"Schema:\n{orjson.dumps(schema or {}).decode()}",
    )
    return request.model_copy(
        update={
            "messages": [instruction, *request.messages],
            "response_format": {"type": "json_object"},
            "native": None,
            "native_format": None,
        }
    )
