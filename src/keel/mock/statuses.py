"""The mock's HTTP error replies (400, 401, 404, 429, 500, 503) in OpenAI's error shape."""

from __future__ import annotations

import math
import time
from email.utils import formatdate

from aiohttp import web

from .answer import prompt_tokens
from .exchange import Exchange
from .wire import error_body

__all__ = [
    "auth_error",
    "content_policy",
    "context_length",
    "error_reply",
    "no_grammar",
    "no_prefill",
    "not_found",
    "rate_limited",
    "retry_after_headers",
    "server_error",
    "unavailable",
]

DEFAULT_CONTEXT = 8192


def error_reply(
    status: int,
    message: str,
    type: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An OpenAI-shaped JSON error with ``status``."""
    return web.Response(
        status=status,
        body=error_body(message, type, code, param),
        content_type="application/json",
        headers=headers,
    )


def rate_limited(ex: Exchange) -> web.Response:
    """429 with ``Retry-After`` (seconds as given, or an HTTP date) and ``retry-after-ms``."""
    headers, wait = retry_after_headers(ex)
    message = f"Rate limit reached for requests on model {ex.spec.model!r} (keel mock).{wait}"
    return error_reply(429, message, "rate_limit_exceeded", "rate_limit_exceeded", headers=headers)


def retry_after_headers(ex: Exchange) -> tuple[dict[str, str], str]:
    """A 429's headers (``Retry-After``, ``retry-after-ms``) as the model name asks, and the wait in words."""
    headers = ex.headers()
    raw = ex.spec.params.get("retry_after")
    seconds = ex.spec.number("retry_after")
    wait = ""
    if raw is not None and seconds is not None:
        wait = f" Please try again in {raw}s."
        if ex.spec.flag("retry_after_date"):
            headers["Retry-After"] = formatdate(math.ceil(time.time() + seconds), usegmt=True)
        else:
            headers["Retry-After"] = raw
            if ex.spec.flag("ms_header", True):
                millis = seconds * 1000
                headers["retry-after-ms"] = str(int(millis)) if millis.is_integer() else str(millis)
    return headers, wait


def server_error(ex: Exchange) -> web.Response:
    """500 as OpenAI sends when its server failed."""
    message = "The server had an error while processing your request. Sorry about that!"
    return error_reply(500, message, "server_error", "server_error", headers=ex.headers())


def unavailable(ex: Exchange) -> web.Response:
    """503 as OpenAI sends when it is overloaded."""
    message = "The engine is currently overloaded, please try again later."
    return error_reply(503, message, "server_error", "service_unavailable", headers=ex.headers())


def context_length(ex: Exchange) -> web.Response | None:
    """400 ``context_length_exceeded``, or None when ``prompt_limit`` is set and the prompt fits."""
    used = prompt_tokens(ex.body)
    limit = ex.spec.integer("prompt_limit")
    if limit is not None and used <= limit:
        return None
    if limit is None:
        limit = ex.spec.integer("context", DEFAULT_CONTEXT) or 0
    reported = max(used, limit + 1)
    message = (
        f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
        f"{reported} tokens. Please reduce the length of the messages."
    )
    return error_reply(
        400, message, "invalid_request_error", "context_length_exceeded", "messages", headers=ex.headers()
    )


def content_policy(ex: Exchange) -> web.Response:
    """400 ``content_policy_violation``, as OpenAI's safety system rejects a prompt."""
    message = (
        "Your request was rejected as a result of our safety system. "
        "Your prompt may contain text that is not allowed by our safety system."
    )
    return error_reply(
        400, message, "invalid_request_error", "content_policy_violation", headers=ex.headers()
    )


def no_prefill(ex: Exchange) -> web.Response | None:
    """400 when the last message is an assistant prefill, or None when it is not."""
    messages = ex.body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if last.get("role") != "assistant":
        return None
    message = (
        "This model does not support assistant message prefill: "
        "the conversation must end with a user or tool message."
    )
    return error_reply(
        400, message, "invalid_request_error", "unsupported_prefill", "messages", headers=ex.headers()
    )


def auth_error(headers: dict[str, str]) -> web.Response:
    """401 ``invalid_api_key`` (the key itself is never echoed)."""
    message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
    return error_reply(401, message, "invalid_request_error", "invalid_api_key", headers=headers)


def not_found(ex: Exchange) -> web.Response:
    """404 ``model_not_found``."""
    message = f"The model `{ex.spec.model}` does not exist or you do not have access to it."
    return error_reply(
        404, message, "invalid_request_error", "model_not_found", "model", headers=ex.headers()
    )


def no_grammar(ex: Exchange) -> web.Response | None:
    """400 as llama.cpp answers a JSON schema it cannot turn into a grammar, or None when the request
    asks for no ``json_schema``."""
    response_format = ex.body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    message = (
        "Unable to generate parser for this template. Automatic parser generation failed: JSON schema "
        "error at #/properties/name: unsupported $ref #name, only references into the same document "
        "are supported"
    )
    return error_reply(400, message, "invalid_request_error", headers=ex.headers())
