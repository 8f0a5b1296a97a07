"""Anthropic's Messages format at the front door: request bodies read with clear 400s, answers and
errors written as Anthropic writes them.

A request is checked for the shape the Messages API requires, then read into a ``ChatRequest`` that
keeps the client's body as its native form, so an Anthropic route receives it as the client wrote
it. An answer from an Anthropic route goes back as the bytes it came in; any other is translated
(``keel.formats``). Errors are ``{"type": "error", "error": {"type", "message"}}`` with the status
Anthropic documents for each type, so the ``anthropic`` SDK raises its own classes; a refusal of
Keel's own has its code as the type (DESIGN: Keel's own error codes reach both APIs).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import ServerError, StreamInterruptedError
from ..formats import from_anthropic_request, to_anthropic_message
from ..types import ChatRequest, ChatResponse
from .errors import ApiError, Headers, error_parts, keel_code

__all__ = ["ERROR_TYPES", "anthropic_error", "encode_message", "error_body", "error_type", "messages_request"]

# Anthropic's error type for each status it documents; any other 4xx is an invalid_request_error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ROLES = ("user", "assistant")


def messages_request(body: dict[str, Any], headers: dict[str, str]) -> tuple[ChatRequest, bool]:
    """The request and whether it streams; ``anthropic-beta`` rides along for Anthropic routes.

    Raises:
        ApiError: 400 naming the first field that is missing or of the wrong type.
        RequestError: content only an Anthropic route could take (server tools, ...).
    """
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model: a non-empty string is required", param="model")
    limit = body.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ApiError(400, "max_tokens: a positive integer is required", param="max_tokens")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream: must be true or false", param="stream")
    _check_messages(body.get("messages"))
    _check_blocks(body.get("system"), "system", text_allowed=True)
    _check_blocks(body.get("tools"), "tools", text_allowed=False)
    for field in ("tool_choice", "metadata", "thinking"):
        if body.get(field) is not None and not isinstance(body[field], dict):
            raise ApiError(400, f"{field}: must be an object", param=field)
    request = from_anthropic_request(body)
    beta = headers.get("anthropic-beta")
    if beta:
        request.native_headers = {"anthropic-beta": beta}
    return request, bool(stream)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: a non-empty array of messages is required", param="messages")
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise ApiError(400, f"{where}: must be an object with role and content", param=where)
        if message.get("role") not in _ROLES:
            raise ApiError(400, f"{where}.role: must be 'user' or 'assistant'", param=f"{where}.role")
        _check_blocks(message.get("content"), f"{where}.content", text_allowed=True, required=True)


def _check_blocks(value: Any, where: str, *, text_allowed: bool, required: bool = False) -> None:
    """``value`` is a string (where text is allowed) or an array of objects; absent unless required."""
    if value is None and not required:
        return
    if text_allowed and isinstance(value, str):
        return
    if isinstance(value, list) and all(isinstance(block, dict) for block in value):
        return
    kind = "a string or an array of objects" if text_allowed else "an array of objects"
    raise ApiError(400, f"{where}: must be {kind}", param=where)


def encode_message(response: ChatResponse) -> bytes:
    """The ``Message`` body: the upstream's own bytes when it spoke Anthropic's format, else translated."""
    native = response.native
    if native is not None and native.format == "anthropic":
        return native.data
    return orjson.dumps(to_anthropic_message(response))


def anthropic_error(error: BaseException) -> tuple[int, Headers, bytes]:
    """The ``ErrorRenderer`` of ``/v1/messages``: Keel's headers (``x-should-retry``, ``retry-after``)
    as on the OpenAI endpoints, the status and error type as Anthropic documents them."""
    status, headers, detail = error_parts(error)
    status = _status(error, status)
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not worth reading
    kind = keel_code(error) or error_type(status)
    return status, headers, orjson.dumps(error_body(detail["message"], kind))


def error_type(status: int) -> str:
    """Anthropic's error type for a status (already mapped by ``_status``)."""
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(message: str, kind: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _status(error: BaseException, status: int) -> int:
    """Anthropic's status for Keel's: an overloaded upstream or no route left is a 529 (overloaded),
    a deadline 504, every other failure upstream a 500 (``api_error``); 4xx are kept."""
    if isinstance(error, StreamInterruptedError) and error.cause is not None:
        return _status(error.cause, error.cause.status)
    if isinstance(error, ServerError) and error.upstream_status in (503, 529):
        return 529
    if status == 503:
        return 529
    if status >= 500 and status != 504:
        return 500
    return status
