"""Errors at the HTTP boundary: every failure as OpenAI's error shape, with its status and headers.

``ApiError`` is what the server itself refuses with (bad JSON, a body too large, no key). A
``keel.errors`` class raised by the gateway is translated here, in one place, so the official SDKs
raise their own classes: 400 ``BadRequestError``, 401 ``AuthenticationError``, 404
``NotFoundError``, 429 ``RateLimitError``, 5xx ``InternalServerError``.

Every error response but one says ``x-should-retry: false``: Keel has already spent its own
retries, and an SDK that retried too would multiply them. The exception is Keel's own rate limit,
whose ``Retry-After`` a client may honour. A refusal with a code of Keel's own (``keel_code``) also
carries it as ``x-keel-error-code``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import (
    AuthenticationError,
    InvalidRequestError,
    KeelError,
    ModelNotFoundError,
    RateLimitExceededError,
    StreamInterruptedError,
    UpstreamError,
)

__all__ = [
    "ApiError",
    "ErrorRenderer",
    "error_body",
    "error_parts",
    "keel_code",
    "openai_error",
    "own_refusal",
]

Headers = list[tuple[bytes, bytes]]
ErrorRenderer = Callable[[BaseException], tuple[int, Headers, bytes]]
"""An exception as an API's error response: status, extra headers, body."""

_SECRETS = re.compile(r"(sk-[A-Za-z0-9_*\-]{6,}|Bearer\s+\S+|key-[A-Za-z0-9]{16,})")
_NO_RETRY = (b"x-should-retry", b"false")


class ApiError(Exception):
    """A refusal by the server itself, before or instead of a gateway call."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or []


def error_body(message: str, type: str, code: str | None = None, param: str | None = None) -> bytes:
    """``{"error": {"message", "type", "code", "param"}}`` as bytes."""
    return orjson.dumps({"error": {"message": message, "type": type, "code": code, "param": param}})


def openai_error(error: BaseException) -> tuple[int, Headers, bytes]:
    """The ``ErrorRenderer`` of the OpenAI endpoints."""
    status, headers, detail = error_parts(error)
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not worth reading
    return status, headers, orjson.dumps({"error": detail})


def error_parts(error: BaseException) -> tuple[int, Headers, dict[str, Any]]:
    """The status, extra headers and ``error`` object for any exception (a 500 for the unexpected)."""
    error = own_refusal(error)
    if isinstance(error, ApiError):
        detail = _detail(error.message, error.type, error.code, error.param)
        return error.status, [*error.headers, _NO_RETRY], detail
    if isinstance(error, KeelError):
        return _keel_parts(error)
    message = "internal error in Keel; the server log has the details"
    detail = _detail(message, "server_error", "internal_error", None)
    return 500, [_NO_RETRY], detail


def own_refusal(error: BaseException) -> BaseException:
    """A stream ended by Keel's own refusal after content went out (an answer that failed its
    schema at the end) is reported as that refusal, with its code, not as a cut stream."""
    cause = error.__cause__
    if isinstance(error, StreamInterruptedError) and isinstance(cause, KeelError) and cause.keel_code:
        return cause
    return error


def keel_code(error: BaseException) -> str | None:
    """The code of a refusal that is Keel's own (``tools_unsupported``, ...), else None."""
    error = own_refusal(error)
    if isinstance(error, KeelError) and error.keel_code:
        return error.code
    return None


def _keel_parts(error: KeelError) -> tuple[int, Headers, dict[str, Any]]:
    status = error.status
    message = error.message
    if isinstance(error, AuthenticationError):
        # The provider's own wording may quote part of the operator's key.
        message = (
            f"{error.route or 'the route'}: the provider refused Keel's credentials ({error.upstream_status})"
        )
    elif isinstance(error, InvalidRequestError) and error.upstream_status in (404, 409, 413, 422):
        status = error.upstream_status
    headers: Headers = []
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after >= 0 and status in (429, 503):
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
        headers.append((b"retry-after-ms", str(int(retry_after * 1000)).encode()))
    if not isinstance(error, RateLimitExceededError):
        headers.append(_NO_RETRY)
    if code := keel_code(error):
        headers.append((b"x-keel-error-code", code.encode()))
    param = error.param if isinstance(error, UpstreamError) else getattr(error, "param", None)
    if isinstance(error, ModelNotFoundError):
        param = "model"
    detail = _detail(_SECRETS.sub("***", message), error.openai_type, error.code, param)
    return status, headers, detail


def _detail(message: str, type: str, code: str | None, param: Any) -> dict[str, Any]:
    return {
        "message": message,
        "type": type,
        "code": code,
        "param": param if isinstance(param, str) else None,
    }
