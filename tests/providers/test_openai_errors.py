"""OpenAI-format error responses map to the taxonomy's classes and decisions."""

import orjson
import pytest

from keel import errors
from keel.providers._openai_errors import error_from_response


def body(message: str, code: str | None = None, kind: str = "invalid_request_error") -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "code": code, "param": None}})


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (429, body("slow down", "rate_limit_exceeded"), errors.RateLimitError),
        (429, body("quota", "insufficient_quota"), errors.AuthenticationError),
        (401, body("bad key", "invalid_api_key"), errors.AuthenticationError),
        (403, body("forbidden"), errors.AuthenticationError),
        (500, b"", errors.ServerError),
        (502, b"<html>bad gateway</html>", errors.ServerError),
        (503, body("overloaded"), errors.ServerError),
        (529, body("overloaded"), errors.ServerError),
        (400, body("too long", "context_length_exceeded"), errors.ContextLengthExceededError),
        (400, body("This model's maximum context length is 8192 tokens"), errors.ContextLengthExceededError),
        (400, body("rejected", "content_policy_violation"), errors.ContentPolicyError),
        (400, body("filtered", "content_filter"), errors.ContentPolicyError),
        (400, body("bad temperature"), errors.InvalidRequestError),
        (400, body("too big", kind="exceed_context_size_error"), errors.ContextLengthExceededError),
        (500, body("image input is not supported", kind="server_error"), errors.InvalidRequestError),
        (404, body("no such model", "model_not_found"), errors.InvalidRequestError),
        (422, body("unprocessable"), errors.InvalidRequestError),
    ],
)
def test_status_and_code_pick_the_class(status: int, payload: bytes, expected: type) -> None:
    """Each upstream outcome lands on the class whose flags carry DESIGN.md's decision."""
    error = error_from_response(status, {}, payload, route="r")
    assert type(error) is expected
    assert error.route == "r"
    assert error.upstream_status == status


def test_retry_after_and_request_id_are_kept() -> None:
    """The wait hint and the upstream's request id travel on the error."""
    error = error_from_response(429, {"retry-after": "3", "x-request-id": "req_1"}, b"", route="r")
    assert error.retry_after == 3.0
    assert error.upstream_request_id == "req_1"


def test_decision_flags_follow_the_design_table() -> None:
    """Retry, fallback and breaker decisions are class data, as in the table."""
    table = {
        errors.ConnectError: (True, True, True),
        errors.UpstreamTimeoutError: (False, True, True),
        errors.RateLimitError: (True, True, False),
        errors.ServerError: (True, True, True),
        errors.MalformedResponseError: (True, True, True),
        errors.ContextLengthExceededError: (False, True, False),
        errors.ContentPolicyError: (False, False, False),
        errors.InvalidRequestError: (False, False, False),
        errors.AuthenticationError: (False, True, True),
    }
    for cls, flags in table.items():
        assert (cls.retry_same_route, cls.try_next_route, cls.counts_for_breaker) == flags, cls


def test_a_message_quoting_the_request_is_kept_redacted() -> None:
    """An upstream message that quotes the prompt keeps its words but not the address or card it
    quoted, in the error's message and body alike (what the client, the ledger and the attempts get)."""
    quoting = body("Invalid content: 'mail ada@example.com, card 4111 1111 1111 1111'", "invalid_value")
    error = error_from_response(400, {}, quoting, route="r")
    assert error.message == "Invalid content: 'mail [EMAIL], card [CARD]'"
    assert error.body is not None and error.body["message"] == error.message
