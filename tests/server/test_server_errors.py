"""Each error class maps to the status, OpenAI error type and headers an SDK needs to react right."""

from __future__ import annotations

import pytest

from keel.errors import (
    AuthenticationError,
    BudgetExceededError,
    CircuitOpenError,
    ConnectError,
    ContentPolicyError,
    ContextLengthExceededError,
    DeadlineExceededError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    NoRouteAvailableError,
    RateLimitError,
    RateLimitExceededError,
    RequestError,
    RouteUnavailableError,
    ServerError,
    StreamInterruptedError,
    UpstreamTimeoutError,
)
from keel.server.errors import ApiError, error_parts
from keel.types import ChatResponse


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (RequestError("bad"), 400, "invalid_request_error", None),
        (ModelNotFoundError("no such model"), 404, "invalid_request_error", "model_not_found"),
        (InvalidRequestError("x", upstream_status=400), 400, "invalid_request_error", None),
        (
            InvalidRequestError("x", upstream_status=404, code="model_not_found"),
            404,
            "invalid_request_error",
            "model_not_found",
        ),
        (InvalidRequestError("x", upstream_status=422), 422, "invalid_request_error", None),
        (ContextLengthExceededError("x"), 400, "invalid_request_error", "context_length_exceeded"),
        (ContentPolicyError("x"), 400, "invalid_request_error", "content_policy_violation"),
        (RateLimitError("x"), 429, "rate_limit_exceeded", None),
        (ServerError("x"), 502, "api_error", None),
        (MalformedResponseError("x"), 502, "api_error", None),
        (ConnectError("x"), 502, "api_error", None),
        (UpstreamTimeoutError("x"), 504, "timeout", None),
        (DeadlineExceededError("x"), 504, "timeout", "deadline_exceeded"),
        (NoRouteAvailableError("x"), 503, "service_unavailable", "no_route_available"),
        (CircuitOpenError("x"), 503, "service_unavailable", None),
        (RouteUnavailableError("x"), 503, "service_unavailable", None),
        (AuthenticationError("x", upstream_status=401), 502, "upstream_authentication_error", None),
        (BudgetExceededError("x", budget="b"), 429, "budget_exceeded", "budget_exceeded"),
        (
            StreamInterruptedError("x", partial=ChatResponse()),
            502,
            "stream_interrupted",
            "stream_interrupted",
        ),
        (ValueError("a bug"), 500, "server_error", "internal_error"),
    ],
)
def test_status_type_and_code(error: BaseException, status: int, kind: str, code: str | None) -> None:
    """The status decides the SDK's exception class; type and code are OpenAI's fields."""
    got_status, headers, detail = error_parts(error)
    assert (got_status, detail["type"], detail["code"]) == (status, kind, code)
    assert set(detail) == {"message", "type", "code", "param"}
    assert (b"x-should-retry", b"false") in headers


def test_keels_own_rate_limit_lets_the_client_retry_after() -> None:
    """Keel's own 429 carries Retry-After and no x-should-retry: waiting is the right response."""
    status, headers, _ = error_parts(RateLimitExceededError("slow down", limit="rpm", retry_after=2.5))
    assert status == 429
    assert (b"retry-after", b"3") in headers and (b"retry-after-ms", b"2500") in headers
    assert all(name != b"x-should-retry" for name, _ in headers)


def test_upstream_retry_after_is_passed_on() -> None:
    """An upstream 429's Retry-After reaches the client, with x-should-retry: false."""
    _, headers, _ = error_parts(RateLimitError("limited", retry_after=30))
    assert (b"retry-after", b"30") in headers and (b"x-should-retry", b"false") in headers


def test_internal_errors_say_nothing_of_their_cause() -> None:
    """A bug's message and type stay in the log, not in the response."""
    _, _, detail = error_parts(RuntimeError("secret internals at 0xdead"))
    assert "0xdead" not in detail["message"]


def test_key_shaped_text_is_masked() -> None:
    """A key quoted in an upstream message never reaches the client."""
    _, _, detail = error_parts(ServerError("routes tried: a: 401 Incorrect API key sk-abcdefghijklmnop"))
    assert "sk-abc" not in detail["message"] and "***" in detail["message"]


def test_upstream_auth_message_is_replaced() -> None:
    """A provider's 401 wording (which may quote the operator's key) is replaced by Keel's."""
    error = AuthenticationError(
        "Incorrect API key provided: sk-proj-****abcd", route="openai/gpt", upstream_status=401
    )
    _, _, detail = error_parts(error)
    assert detail["message"] == "openai/gpt: the provider refused Keel's credentials (401)"


def test_api_error_keeps_its_param_and_headers() -> None:
    """The server's own refusals carry their param and headers."""
    status, headers, detail = error_parts(ApiError(405, "no", headers=[(b"allow", b"POST")], param="x"))
    assert status == 405 and detail["param"] == "x" and (b"allow", b"POST") in headers
