"""Redaction runs before rendering: no key reaches a log line."""

import logging

import pytest

from keel.telemetry.logs import get_logger, redact_secrets


def test_redact_secret_keys_and_values() -> None:
    """Values under secret-looking keys, and key-shaped strings anywhere, are masked."""
    event = {"event": "x", "api_key": "abc", "Authorization": "Bearer t", "note": "used sk-abcdefghijk1 here"}
    assert redact_secrets(None, "info", event) == {
        "event": "x",
        "api_key": "***",
        "Authorization": "***",
        "note": "used *** here",
    }


def test_token_counts_are_not_taken_for_tokens() -> None:
    """A count of tokens is a figure to read; a token (access_token, x-token) is a secret."""
    event = {"event": "x", "tokens": 5, "input_tokens": 3, "access_token": "abc", "token": "t"}
    assert redact_secrets(None, "info", event) == {
        "event": "x",
        "tokens": 5,
        "input_tokens": 3,
        "access_token": "***",
        "token": "***",
    }


def test_logs_go_to_stdlib_logging(caplog: pytest.LogCaptureFixture) -> None:
    """Keel's events reach the application's ``logging`` config, redacted."""
    with caplog.at_level(logging.INFO, logger="keel.test"):
        get_logger("keel.test").info("retrying", route="a/b", token="s3cret")
    assert "retrying" in caplog.text and "route='a/b'" in caplog.text
    assert "s3cret" not in caplog.text
