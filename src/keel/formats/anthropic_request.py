"""Requests between the formats: a canonical ``ChatRequest`` ⇄ an Anthropic Messages request body.

What Anthropic lacks is decided here, after Anthropic's own OpenAI SDK compatibility notes:

- **dropped**: ``IGNORED_OPENAI_PARAMS`` (Anthropic's compatibility layer ignores them too), tools'
  ``strict`` and messages' ``name``; any other field Anthropic does not define (it refuses unknown ones);
- **clamped**: ``temperature`` to [0, 1]; ``top_p`` is dropped when ``temperature`` is also given,
  since Claude models from 4.5 on refuse the pair;
- **refused**: ``n`` > 1, with ``RequestError``;
- **native**: a strict ``response_format`` ``json_schema`` as ``output_config.format`` on models that
  take it (``native_json``, see ``anthropic_structured``);
- **emulated**: any other ``response_format`` ``json_schema`` as a forced tool (``JSON_TOOL``),
  ``json_object`` as a system instruction, ``user`` as ``metadata.user_id``, ``stop`` as ``stop_sequences``
  (whitespace-only ones dropped), and the ``max_tokens`` Anthropic requires: the request's, else the
  route's maximum output, else ``DEFAULT_MAX_TOKENS``.

Anthropic-only fields a caller adds to an OpenAI-format request (``ANTHROPIC_EXTRAS``, e.g. ``thinking``)
are passed on, as Anthropic's compatibility layer accepts ``thinking`` in ``extra_body``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import RequestError
from ..types import ChatRequest
from .anthropic_messages import from_anthropic_messages, to_anthropic_messages
from .anthropic_structured import native_format, native_schema
from .anthropic_tools import (
    JSON_OBJECT_INSTRUCTION,
    JSON_TOOL,
    from_anthropic_tool_choice,
    from_anthropic_tools,
    json_output_tool,
    to_anthropic_tool_choice,
    to_anthropic_tools,
)

__all__ = [
    "ANTHROPIC_EXTRAS",
    "DEFAULT_MAX_TOKENS",
    "IGNORED_OPENAI_PARAMS",
    "AnthropicRequest",
    "from_anthropic_request",
    "to_anthropic_request",
]

DEFAULT_MAX_TOKENS = 4096
IGNORED_OPENAI_PARAMS = frozenset(
    {
        "logprobs",
        "top_logprobs",
        "metadata",
        "prediction",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "service_tier",
        "audio",
        "logit_bias",
        "store",
        "modalities",
        "reasoning_effort",
    }
)
ANTHROPIC_EXTRAS = ("thinking", "top_k", "cache_control")


@dataclass(frozen=True, slots=True)
class AnthropicRequest:
    """A Messages request body, and the tool (if any) whose input is the answer's JSON text."""

    body: dict[str, Any]
    json_tool: str | None = None


def to_anthropic_request(
    request: ChatRequest, *, max_tokens: int | None = None, native_json: bool = False
) -> AnthropicRequest:
    """The Anthropic Messages body for ``request`` (``stream`` is left to the caller).

    Args:
        request: the canonical request.
        max_tokens: the route's maximum output, used when the request sets no limit.
        native_json: the model takes ``output_config.format``: a strict JSON schema is asked for so.

    Raises:
        RequestError: what Anthropic cannot do (``n`` > 1, audio parts, ...), with the reason.
    """
    if request.n is not None and request.n > 1:
        raise RequestError(
            f"n={request.n}: an Anthropic route gives one answer per request; send n=1 (or n requests)"
        )
    system, turns = to_anthropic_messages(request.messages)
    if not turns:
        raise RequestError("an Anthropic route needs at least one user or assistant message")
    extra = request.model_extra or {}
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.output_limit() or max_tokens or DEFAULT_MAX_TOKENS,
        "messages": turns,
    }
    tools = to_anthropic_tools(request.tools)
    choice = to_anthropic_tool_choice(request.tool_choice, extra.get("parallel_tool_calls"))
    json_tool = None
    kind = (request.response_format or {}).get("type")
    native = native_format(request.response_format or {}) if native_json else None
    if native is not None:
        given = extra.get("output_config")
        body["output_config"] = {**(given if isinstance(given, dict) else {}), "format": native}
    elif kind == "json_schema":
        assert request.response_format is not None
        tools.append(json_output_tool(request.response_format))
        json_tool = JSON_TOOL
        choice = _json_choice(choice, user_tools=len(tools) > 1, thinking=bool(extra.get("thinking")))
        if choice["type"] == "auto":
            system.append({"type": "text", "text": f"Give your final answer by calling {JSON_TOOL}."})
    elif kind == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    if system:
        body["system"] = _system(system)
    if tools:
        body["tools"] = tools
        if choice is not None:
            body["tool_choice"] = choice
    body.update(_sampling(request))
    for name in ANTHROPIC_EXTRAS:
        if extra.get(name) is not None:
            body[name] = extra[name]
    if native is None and isinstance(extra.get("output_config"), dict):
        body["output_config"] = extra["output_config"]
    return AnthropicRequest(body, json_tool)


def _json_choice(choice: dict[str, Any] | None, *, user_tools: bool, thinking: bool) -> dict[str, Any]:
    """Force the JSON tool, unless the caller's own tools may be called first (then any tool)."""
    if thinking:
        return {"type": "auto"}  # Anthropic refuses a forced tool while thinking: ask in the prompt
    kind = (choice or {}).get("type")
    if user_tools and kind in (None, "auto", "any"):
        return {**(choice or {}), "type": "any"}
    if user_tools and kind == "tool":
        return dict(choice or {})
    return {"type": "tool", "name": JSON_TOOL}


def _system(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text blocks join into one string; blocks with ``cache_control`` are kept as blocks."""
    if all(set(block) == {"type", "text"} for block in blocks):
        return "\n".join(block["text"] for block in blocks)
    return blocks


def _sampling(request: ChatRequest) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if request.temperature is not None:
        out["temperature"] = min(max(request.temperature, 0.0), 1.0)
    elif request.top_p is not None:
        out["top_p"] = request.top_p
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or ())
    stops = [stop for stop in stops if stop.strip()]
    if stops:
        out["stop_sequences"] = stops
    if request.user:
        out["metadata"] = {"user_id": request.user}
    return out


def from_anthropic_request(body: dict[str, Any]) -> ChatRequest:
    """The canonical request for an Anthropic Messages body, keeping the body as its native form.

    ``thinking``, ``top_k``, ``cache_control`` and other Anthropic-only fields reach only an Anthropic
    route (through the native body); thinking blocks in the history are left out for other routes.

    Raises:
        RequestError: a malformed body, or content only an Anthropic route can take (server tools,
            documents by URL).
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    params: dict[str, Any] = {
        "model": body.get("model"),
        "messages": from_anthropic_messages(body.get("system"), body.get("messages") or []),
        "max_tokens": body.get("max_tokens"),
    }
    tools = from_anthropic_tools(body.get("tools"))
    choice, parallel = from_anthropic_tool_choice(body.get("tool_choice"))
    if tools:
        params["tools"] = tools
        if choice is not None:
            params["tool_choice"] = choice
        if parallel is not None:
            params["parallel_tool_calls"] = parallel
    for ours, theirs in (("stop", "stop_sequences"), ("temperature", "temperature"), ("top_p", "top_p")):
        if body.get(theirs) is not None:
            params[ours] = body[theirs]
    schema = native_schema(body)
    if schema is not None:  # asked natively: the same answer as a strict json_schema response_format
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": True},
        }
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        params["user"] = user
    if body.get("stream") is not None:
        params["stream"] = body["stream"]
    try:
        request = ChatRequest.model_validate(params)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise RequestError(f"invalid request: {where}: {error['msg']}") from None
    request.native, request.native_format = body, "anthropic"
    return request
