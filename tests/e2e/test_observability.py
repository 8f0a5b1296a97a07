"""Traces, GenAI instruments and JSON call logs through a real ``keel serve`` in front of ``keel mock``;
and a canary secret and e-mail address that reach none of them."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from opentelemetry.trace import SpanKind

from keel.mock import MockServer
from keel.telemetry.logs import set_format

from ..otel_capture import capture
from .conftest import KeelFactory, RunningKeel
from .test_cache import ledger_rows

# Key-shaped canaries are made at run time: no committed line looks like a live key.
MASTER = "sk-" + "canary-master-" + secrets.token_hex(8)
PROVIDER_KEY = "sk-" + "canary-provider-" + secrets.token_hex(8)
PROMPT_KEY = "sk-" + "canary-prompt-" + secrets.token_hex(8)
EMAIL = "canary.person@example.com"
CARD = "4111 1111 1111 1111"
CANARIES = (MASTER, PROVIDER_KEY, PROMPT_KEY, EMAIL, CARD, "sk-canary", "example.com")
CLIENT_TRACE, CLIENT_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


class Lines(logging.Handler):
    """Every line Keel logs, formatted as ``keel serve`` writes it with JSON lines."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


@pytest.fixture
def lines() -> Iterator[Lines]:
    keel_logger = logging.getLogger("keel")
    handler, level = Lines(), keel_logger.level
    keel_logger.addHandler(handler)
    keel_logger.setLevel(logging.DEBUG)
    yield handler
    keel_logger.removeHandler(handler)
    keel_logger.setLevel(level)
    set_format("kv")  # process-wide: the next test's lines are key=value again


def chat(running: RunningKeel, model: str, *, stream: bool = False, **headers: str) -> httpx.Response:
    body = {
        "model": model,
        "stream": stream,
        "user": EMAIL,
        "messages": [{"role": "user", "content": f"My key is {PROMPT_KEY}; write to {EMAIL}; card {CARD}."}],
    }
    headers = {"authorization": f"Bearer {MASTER}", "x-canary": f"{EMAIL} {PROMPT_KEY}", **headers}
    return httpx.post(f"{running.v1}/chat/completions", json=body, headers=headers, timeout=10)


def wait_for(found: Any, what: str) -> Any:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"no {what}")


def test_traces_logs_and_metrics_of_a_retried_fallback_call_carry_no_canary(
    keel_for: KeelFactory, upstream: MockServer, lines: Lines
) -> None:
    """Through ``keel serve``: the client's traceparent is the call span's parent and the mock sees
    each attempt's; the JSON call log lines parse and carry the call's fields and its span's ids; a
    failed call logs ``llm_request_failed``; and neither the master key, the provider's key nor a
    key or e-mail address in the prompt, the ``user`` field or a header appears in any log line,
    span, GenAI metric or Prometheus scrape."""
    found = capture()
    tag = uuid.uuid4().hex[:8]
    failing, healthy = f"error-503:id={tag}", f"ok:tokens=4,id={tag}"
    running = keel_for(
        {"smart": [[f"mock/{failing}"], [f"mock/{healthy}"]], "down": [f"mock/{failing}"]},
        server={"master_key": MASTER},
        providers={"mock": {"api_key": PROVIDER_KEY}},
        retry={"max_attempts": 2},
        tracing={"enabled": True, "exporter": "global"},
        logging={"format": "json", "calls": "info"},
    )
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    answered = chat(running, "smart", traceparent=traceparent)
    assert answered.status_code == 200, answered.text
    streamed = chat(running, "smart", stream=True)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    failed = chat(running, "down")
    assert failed.status_code == 503

    trace_id = int(CLIENT_TRACE, 16)
    spans = wait_for(lambda: len(found.trace(trace_id)) >= 4 and found.trace(trace_id), "call span")
    call = next(s for s in spans if s.kind is SpanKind.INTERNAL)
    assert call.parent is not None and f"{call.parent.span_id:016x}" == CLIENT_SPAN
    attempts = sorted((s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert [s.attributes["keel.attempt.reason"] for s in attempts] == ["first", "retry", "fallback"]
    sent = [a["headers"]["traceparent"] for a in upstream.attempts(model=failing)[:2]]
    sent.append(upstream.attempts(model=healthy)[0]["headers"]["traceparent"])
    assert [value.split("-")[1:3] for value in sent] == [
        [CLIENT_TRACE, f"{s.context.span_id:016x}"] for s in attempts
    ]

    request_id = answered.headers["x-request-id"]
    events = wait_for(
        lambda: [e for e in lines.events() if e.get("event") == "llm_request_failed"] and lines.events(),
        "failed call's line",
    )
    completes = [e for e in events if e["event"] == "llm_request_complete"]
    complete = next(e for e in completes if e["request_id"] == request_id)
    assert complete["level"] == "info" and complete["logger"] == "keel.calls" and complete["timestamp"]
    assert complete["model"] == "smart" and complete["route"] == f"mock/{healthy}"
    assert complete["status"] == "ok" and complete["stream"] is False
    assert [(a["reason"], a["outcome"]) for a in complete["attempts"]][2] == ("fallback", "ok")
    assert [a["reason"] for a in complete["attempts"]] == ["first", "retry", "fallback"]
    assert complete["attempts"][0]["status"] == 503
    assert complete["usage"]["output"] == answered.json()["usage"]["completion_tokens"]
    assert set(complete["usage"]) == {"input", "cached_input", "cache_write", "output", "reasoning"}
    assert float(complete["cost_usd"]) > 0 and complete["latency_ms"] > 0
    assert complete["cache_hit"] is False and complete["coalesced"] is False
    assert complete["trace_id"] == CLIENT_TRACE and complete["span_id"] == f"{call.context.span_id:016x}"
    assert "key_id" in complete and "team" in complete
    stream_line = next(e for e in completes if e["stream"])
    assert stream_line["ttft_ms"] is not None and stream_line["trace_id"] != CLIENT_TRACE
    failure = next(e for e in events if e["event"] == "llm_request_failed")
    assert failure["level"] == "warning" and failure["model"] == "down" and failure["status"] != "ok"
    assert [e["event"] for e in events].count("llm_request_start") == 3  # at debug only
    assert any(e["event"] == "request" and e["logger"] == "keel.access" for e in events)

    scrape = httpx.get(f"{running.base_url}/metrics", timeout=10).text
    ledger = wait_for(lambda: len(rows := ledger_rows(running)) >= 3 and rows, "ledger rows")
    admin = {"authorization": f"Bearer {MASTER}"}
    usage = httpx.get(f"{running.base_url}/admin/usage?by=user,key,model", headers=admin, timeout=10)
    assert usage.status_code == 200 and usage.json()  # spend by user: under pseudonyms
    assert all(str(row["user"]).startswith("u_") for row in ledger)
    captured = "\n".join(
        [
            *lines.lines,
            *(str(row) for row in ledger),
            usage.text,
            *(span.to_json() for span in found.spans.get_finished_spans()),
            metrics.to_json() if (metrics := found.reader.get_metrics_data()) else "",
            scrape,
        ]
    )
    for canary in CANARIES:
        assert canary not in captured, canary
    sent_upstream = str(upstream.attempts(model=healthy))
    assert PROVIDER_KEY not in sent_upstream  # the mock keeps no authorization header either


def test_a_client_traceparent_reaches_the_upstream_with_tracing_off(
    keel: RunningKeel, upstream: MockServer
) -> None:
    """With tracing off, ``keel serve`` passes the client's valid ``traceparent`` and ``tracestate``
    to the upstream as they came; an invalid one is not passed on."""
    model = f"ok:id={uuid.uuid4().hex[:8]}"
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    body = {"model": f"mock/{model}", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"traceparent": traceparent, "tracestate": "vendor=abc"}
    assert (
        httpx.post(f"{keel.v1}/chat/completions", json=body, headers=headers, timeout=10).status_code == 200
    )
    bad = {"traceparent": f"00-{'0' * 32}-{CLIENT_SPAN}-01"}
    assert httpx.post(f"{keel.v1}/chat/completions", json=body, headers=bad, timeout=10).status_code == 200
    first, second = upstream.attempts(model=model)
    assert first["headers"]["traceparent"] == traceparent and first["headers"]["tracestate"] == "vendor=abc"
    assert "traceparent" not in second["headers"]
