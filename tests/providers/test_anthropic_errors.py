"""Anthropic errors map to the taxonomy by type and status; retry-after and request-id are kept."""

from __future__ import annotations

import orjson
import pytest

from keel.errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextLengthExceededError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    UpstreamError,
)
from keel.providers._anthropic_errors import error_from_payload, error_from_response


def body(kind: str, message: str) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_body"}
    )


@pytest.mark.parametrize(
    ("status", "kind", "message", "cls"),
    [
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextLengthExceededError,
        ),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit",
            ContextLengthExceededError,
        ),
        (
            400,
            "invalid_request_error",
            "The request exceeds the model's context window",
            ContextLengthExceededError,
        ),
        (400, "invalid_request_error", "Output blocked by content filtering policy", ContentPolicyError),
        (400, "invalid_request_error", "max_tokens: Field required", InvalidRequestError),
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (403, "permission_error", "Your API key does not have permission", AuthenticationError),
        (402, "billing_error", "Your credit balance is too low", AuthenticationError),
        (404, "not_found_error", "model: claude-nope", InvalidRequestError),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes",
            InvalidRequestError,
        ),
        (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", RateLimitError),
        (500, "api_error", "Internal server error", ServerError),
        (529, "overloaded_error", "Overloaded", ServerError),
        (502, "", "", ServerError),
    ],
)
def test_http_errors_map_to_the_taxonomy(
    status: int, kind: str, message: str, cls: type[UpstreamError]
) -> None:
    """Each documented status and error type lands in the class whose flags DESIGN's table gives."""
    error = error_from_response(status, {}, body(kind, message), route="claude/x")
    assert type(error) is cls
    assert (error.upstream_status, error.route) == (status, "claude/x")
    assert error.message == (message or f"upstream returned HTTP {status}")


def test_overloaded_is_retried_and_moves_on() -> None:
    """529 ``overloaded_error`` is a server error: retry the route, then fall back; counts for breakers."""
    error = error_from_response(529, {}, body("overloaded_error", "Overloaded"), route="r")
    assert error.retry_same_route and error.try_next_route and error.counts_for_breaker
    assert error.describe() == "529 Overloaded"


def test_retry_after_and_request_id_are_kept() -> None:
    """A 429's ``retry-after`` is parsed; the ``request-id`` header (else the body's) is the upstream id."""
    error = error_from_response(
        429, {"retry-after": "7", "request-id": "req_hdr"}, body("rate_limit_error", "x"), route="r"
    )
    assert isinstance(error, RateLimitError) and error.retry_after == 7.0
    assert error.upstream_request_id == "req_hdr"
    assert (
        error_from_response(429, {}, body("rate_limit_error", "x"), route="r").upstream_request_id
        == "req_body"
    )


def test_a_body_that_is_not_json_still_classifies_by_status() -> None:
    """An HTML error page from a proxy still maps by its status."""
    assert isinstance(error_from_response(503, {}, b"<html>busy</html>", route="r"), ServerError)
    assert isinstance(error_from_response(401, {}, b"", route="r"), AuthenticationError)


@pytest.mark.parametrize(
    ("kind", "cls", "status"),
    [
        ("overloaded_error", ServerError, 529),
        ("api_error", ServerError, 500),
        ("rate_limit_error", RateLimitError, 429),
        ("invalid_request_error", InvalidRequestError, 400),
        ("something_new", ServerError, 500),
    ],
)
def test_in_stream_errors_classify_by_type(kind: str, cls: type[UpstreamError], status: int) -> None:
    """An ``error`` event inside a 200 stream is classified as the HTTP error its type stands for."""
    error = error_from_payload(
        {"type": "error", "error": {"type": kind, "message": "m"}}, status=200, route="r"
    )
    assert type(error) is cls and error.upstream_status == status


def test_context_length_code_is_openais() -> None:
    """A context-length refusal carries OpenAI's ``context_length_exceeded`` code for OpenAI clients."""
    error = error_from_response(
        400, {}, body("invalid_request_error", "prompt is too long: 9 tokens > 8 maximum"), route="r"
    )
    assert error.code == "context_length_exceeded"


def test_a_message_quoting_the_request_is_kept_redacted() -> None:
    """An upstream message that quotes the prompt keeps its words but not the address it quoted."""
    error = error_from_response(
        400, {}, body("invalid_request_error", "bad turn: 'ada@example.com'"), route="r"
    )
    assert error.message == "bad turn: '[EMAIL]'" and "ada@" not in str(error.body)
