"""The call log event: its fields from the ledger record, its two renderings, its level and sampling."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from keel.config import LoggingConfig
from keel.ledger import LedgerRecord
from keel.telemetry.call_log import CallLog, call_fields, render
from keel.telemetry.logs import set_format

EMAIL = "canary.person@example.com"


def record(**fields: Any) -> LedgerRecord:
    base: dict[str, Any] = {
        "request_id": "a" * 32,
        "started_at": 0.0,
        "status": "ok",
        "requested_model": "smart",
        "stream": False,
        "user": EMAIL,
        "route": "openai/gpt-4o-mini",
        "input_tokens": 12,
        "output_tokens": 5,
        "cost_usd": Decimal("0.0001"),
        "latency_ms": 42.0,
        "error": f"UpstreamError: the prompt said {EMAIL} sk-canary-0123456789abcdef",
        "attempts": [
            {
                "route": "openai/gpt-4o-mini",
                "reason": "first",
                "outcome": "rate_limited",
                "status": 429,
                "duration_s": 0.01,
                "error": f"429: {EMAIL}",
            },
            {"route": "openai/gpt-4o-mini", "reason": "retry", "outcome": "ok", "duration_s": 0.2},
        ],
    }
    return LedgerRecord(**{**base, **fields})


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="keel.calls")
    yield caplog
    set_format("kv")


class _Call:
    request_id = "a" * 32
    options: dict[str, Any] = {}


def test_fields_name_the_call_and_never_its_text() -> None:
    """The fields carry ids, model, route, attempts with reasons and statuses, usage by type, cost and
    latency — never the caller's ``user`` nor an error message (which may quote the prompt)."""
    fields = call_fields(record())
    assert fields["attempts"][0] == {
        "route": "openai/gpt-4o-mini",
        "reason": "first",
        "outcome": "rate_limited",
        "status": 429,
        "duration_ms": 10.0,
    }
    assert (
        fields["usage"]["input"] == 12 and fields["usage"]["output"] == 5 and fields["cost_usd"] == "0.0001"
    )
    assert EMAIL not in str(fields) and "canary" not in str(fields) and "user" not in fields


def test_kv_and_json_renderings() -> None:
    """``key=value`` lines start with the event, keys sorted; JSON lines parse, with level, logger and
    a UTC timestamp."""
    assert render("llm_request_complete", logging.INFO, {"b": 1, "a": "x"}) == (
        "event='llm_request_complete' a='x' b=1"
    )
    set_format("json")
    try:
        line = orjson.loads(render("llm_request_complete", logging.INFO, {"a": "x"}))
    finally:
        set_format("kv")
    assert line["event"] == "llm_request_complete" and line["level"] == "info"
    assert line["logger"] == "keel.calls" and line["timestamp"].endswith("Z") and line["a"] == "x"


def test_sampling_keeps_every_failure(lines: pytest.LogCaptureFixture) -> None:
    """At ``sample_rate: 0`` no completed call is logged, but every failed one is, at WARNING."""
    log = CallLog(LoggingConfig(sample_rate=0))
    log.call_ended(_Call(), record(), None)  # type: ignore[arg-type]
    log.call_ended(_Call(), record(status="server_error"), None)  # type: ignore[arg-type]
    assert [(r.levelno, r.getMessage().split()[0]) for r in lines.records] == [
        (logging.WARNING, "event='llm_request_failed'")
    ]


def test_off_logs_nothing_and_key_shaped_values_are_masked(lines: pytest.LogCaptureFixture) -> None:
    """``calls: off`` logs no call at all; a key-shaped value in a field is masked in the line."""
    failed = record(status="failed", team="sk-canary-0123456789abcdef")
    CallLog(LoggingConfig(calls="off")).call_ended(_Call(), failed, None)  # type: ignore[arg-type]
    assert not lines.records
    CallLog(LoggingConfig(calls="debug")).call_ended(_Call(), failed, None)  # type: ignore[arg-type]
    [line] = [r.getMessage() for r in lines.records]
    assert "sk-canary" not in line and "team='***'" in line
