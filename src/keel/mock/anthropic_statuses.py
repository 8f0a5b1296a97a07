"""The mock's HTTP error replies in Anthropic's shape: 400, 401, 404, 429, 500 and 529 (overloaded)."""

from __future__ import annotations

from aiohttp import web

from .anthropic_answer import prompt_tokens
from .anthropic_wire import error_body
from .exchange import Exchange
from .statuses import DEFAULT_CONTEXT, retry_after_headers

__all__ = [
    "auth_error",
    "content_policy",
    "context_length",
    "error_reply",
    "no_grammar",
    "no_prefill",
    "not_found",
    "rate_limited",
    "server_error",
    "unavailable",
]


def error_reply(status: int, type: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An Anthropic-shaped JSON error with ``status``; the body's ``request_id`` is the header's."""
    request_id = (headers or {}).get("request-id")
    return web.Response(
        status=status,
        body=error_body(type, message, request_id),
        content_type="application/json",
        headers=headers,
    )


def rate_limited(ex: Exchange) -> web.Response:
    """429 ``rate_limit_error`` with ``retry-after`` (seconds as given, or an HTTP date)."""
    headers, wait = retry_after_headers(ex)
    message = f"This request would exceed your rate limit for {ex.spec.model!r} (keel mock).{wait}"
    return error_reply(429, "rate_limit_error", message, headers)


def server_error(ex: Exchange) -> web.Response:
    """500 ``api_error``: something failed inside the provider."""
    return error_reply(500, "api_error", "Internal server error", ex.headers())


def unavailable(ex: Exchange) -> web.Response:
    """529 ``overloaded_error``: Anthropic's answer when it is overloaded for everyone."""
    return error_reply(529, "overloaded_error", "Overloaded", ex.headers())


def context_length(ex: Exchange) -> web.Response | None:
    """400 "prompt is too long", or None when ``prompt_limit`` is set and the prompt fits."""
    used = prompt_tokens(ex.body)
    limit = ex.spec.integer("prompt_limit")
    if limit is not None and used <= limit:
        return None
    if limit is None:
        limit = ex.spec.integer("context", DEFAULT_CONTEXT) or 0
    message = f"prompt is too long: {max(used, limit + 1)} tokens > {limit} maximum"
    return error_reply(400, "invalid_request_error", message, ex.headers())


def content_policy(ex: Exchange) -> web.Response:
    """400 refusing the request under the content filtering policy."""
    return error_reply(
        400, "invalid_request_error", "Output blocked by content filtering policy", ex.headers()
    )


def no_prefill(ex: Exchange) -> web.Response | None:
    """400 when the last message is an assistant prefill, or None when it is not."""
    messages = ex.body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") != "assistant":
        return None
    message = (
        "This model does not support assistant message prefill. "
        "The conversation must end with a user message."
    )
    return error_reply(400, "invalid_request_error", message, ex.headers())


def auth_error(headers: dict[str, str]) -> web.Response:
    """401 ``authentication_error`` (the key itself is never echoed)."""
    return error_reply(401, "authentication_error", "invalid x-api-key", headers)


def not_found(ex: Exchange) -> web.Response:
    """404 ``not_found_error`` for the model."""
    return error_reply(404, "not_found_error", f"model: {ex.spec.model}", ex.headers())


def no_grammar(ex: Exchange) -> web.Response | None:
    """None: the Messages API has no ``response_format`` to refuse."""
    return None
