"""An Anthropic error (``{"type": "error", "error": {"type", "message"}}``) mapped to the taxonomy.

The error's ``type`` decides, so an error sent inside a 200 stream is classified like the HTTP
error it stands for (``overloaded_error`` is a 529 either way); the status decides when it is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextLengthExceededError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    UpstreamError,
)
from ._error_text import CONTEXT_TEXT, POLICY_TEXT, json_or_none, quoted
from ._http import parse_retry_after

__all__ = ["STATUS_OF_TYPE", "error_from_payload", "error_from_response"]

# Anthropic's documented error types and the HTTP status each stands for.
STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "gateway_timeout_error": 504,
    "overloaded_error": 529,
}


def error_from_response(status: int, headers: Mapping[str, str], body: bytes, *, route: str) -> UpstreamError:
    """The taxonomy class for an HTTP error from the Messages API; ``retry-after`` and ``request-id`` kept."""
    payload = json_or_none(body)
    error = error_from_payload(payload, status=status, route=route)
    error.retry_after = parse_retry_after(headers)
    error.upstream_request_id = headers.get("request-id") or error.upstream_request_id
    return error


def error_from_payload(payload: Any, *, status: int, route: str) -> UpstreamError:
    """Classify an Anthropic error body (also the ``error`` event of a stream, sent with status 200)."""
    detail = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(detail, dict):
        detail = {}
    kind = str(detail.get("type") or "")
    if status < 400:  # an error event inside a stream: the type says which status it stands for
        status = STATUS_OF_TYPE.get(kind, 500)
    message = quoted(str(detail.get("message") or f"upstream returned HTTP {status}"))
    cls = _classify(status, kind, message)
    return cls(
        message,
        route=route,
        upstream_status=status,
        code=cls.code or kind or None,
        upstream_request_id=payload.get("request_id") if isinstance(payload, dict) else None,
        body={**detail, "message": message} if detail else None,
    )


def _classify(status: int, kind: str, message: str) -> type[UpstreamError]:
    if status == 429 or kind == "rate_limit_error":
        return RateLimitError
    if status in (401, 402, 403) or kind in ("authentication_error", "permission_error", "billing_error"):
        return AuthenticationError  # the route's key or account is wrong: another route may work
    if status in (408, 409) or status >= 500:
        return ServerError
    if CONTEXT_TEXT.search(message):
        return ContextLengthExceededError
    if POLICY_TEXT.search(message):
        return ContentPolicyError
    return InvalidRequestError
