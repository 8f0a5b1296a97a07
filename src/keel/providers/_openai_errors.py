"""An OpenAI-format error response (status, headers, body) mapped to one class of the taxonomy."""

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
from ._error_text import CONTEXT_TEXT, POLICY_TEXT, UNSUPPORTED_TEXT, json_or_none, quoted
from ._http import parse_retry_after

__all__ = ["error_from_payload", "error_from_response"]

_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length", "exceed_context_size_error"}
_POLICY_CODES = {"content_policy_violation", "content_filter", "content_policy", "moderation_blocked"}


def error_from_response(status: int, headers: Mapping[str, str], body: bytes, *, route: str) -> UpstreamError:
    """The taxonomy class for an HTTP error from an OpenAI-compatible endpoint."""
    payload = json_or_none(body)
    error = error_from_payload(payload, status=status, route=route)
    error.retry_after = parse_retry_after(headers)
    error.upstream_request_id = headers.get("x-request-id")
    return error


def error_from_payload(payload: Any, *, status: int, route: str) -> UpstreamError:
    """Classify ``{"error": {...}}`` (also used for errors sent inside a stream)."""
    detail = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(detail, str):
        detail = {"message": detail}
    if not isinstance(detail, dict):
        detail = {}
    message = quoted(str(detail.get("message") or f"upstream returned HTTP {status}"))
    code = detail.get("code")
    code = str(code) if code is not None else None
    kind = str(detail.get("type") or "")
    cls = _classify(status, code, kind, message)
    return cls(
        message,
        route=route,
        upstream_status=status,
        code=code or cls.code,
        param=detail.get("param"),
        body={**detail, "message": message} if detail else None,
    )


def _classify(status: int, code: str | None, kind: str, message: str) -> type[UpstreamError]:
    if status == 429:
        # An exhausted quota is not a passing limit: waiting will not help, another route may.
        return AuthenticationError if code == "insufficient_quota" else RateLimitError
    if status in (401, 403):
        return AuthenticationError
    if status >= 500 and UNSUPPORTED_TEXT.search(message):
        return InvalidRequestError  # e.g. llama.cpp's 500 for image input: retrying cannot help
    if status in (408, 409) or status >= 500:
        return ServerError
    if code in _CONTEXT_CODES or kind in _CONTEXT_CODES or CONTEXT_TEXT.search(message):
        return ContextLengthExceededError
    if code in _POLICY_CODES or kind in _POLICY_CODES or POLICY_TEXT.search(message):
        return ContentPolicyError
    return InvalidRequestError
