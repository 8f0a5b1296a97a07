"""Traces and the GenAI client instruments through the library, on a real ``keel mock``."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from keel.mock import MockServer

from ..otel_capture import Capture, capture, points
from .conftest import GatewayFactory, user

TRACED = {"tracing": {"enabled": True, "exporter": "global"}, "retry": {"max_attempts": 2}}


def traceparent(span: Any) -> str:
    context = span.context
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


async def _spans(found: Capture, trace_id: int, count: int) -> list[Any]:
    """The trace's spans once ``count`` have ended (a call's span ends with its ledger record, just
    after the answer has gone)."""
    for _ in range(200):
        spans = found.trace(trace_id)
        if len(spans) >= count:
            return spans
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(found.trace(trace_id))} spans ended, not {count}")


async def test_retry_and_fallback_make_one_call_span_with_an_attempt_span_each(
    gateway_for: GatewayFactory, mock_server: MockServer, uid: Any
) -> None:
    """A call whose first route fails twice (a retry) and whose second answers (a fallback) is one
    span under the application's own, with three CLIENT children carrying the GenAI attributes,
    Keel's route, attempt number and reason; each attempt's traceparent reached the mock."""
    found = capture()
    failing, healthy = uid("error-503"), uid("ok:tokens=4")
    gateway = gateway_for({"smart": [[f"mock/{failing}"], [f"mock/{healthy}"]]}, **TRACED)
    with trace.get_tracer("app").start_as_current_span("handler") as outer:
        response = await gateway.chat("smart", user("the canary text stays out"))
    assert response.usage is not None
    trace_id = outer.get_span_context().trace_id
    spans = await _spans(found, trace_id, 5)
    call = next(s for s in spans if s.name == "chat smart")
    assert call.parent is not None and call.parent.span_id == outer.get_span_context().span_id
    attempts = sorted((s for s in spans if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0)
    assert [s.attributes["keel.attempt.reason"] for s in attempts] == ["first", "retry", "fallback"]
    assert [s.attributes["keel.attempt.number"] for s in attempts] == [1, 2, 3]
    assert [s.attributes["keel.route"] for s in attempts] == [f"mock/{failing}"] * 2 + [f"mock/{healthy}"]
    for span in attempts:
        assert span.parent is not None and span.parent.span_id == call.context.span_id
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.provider.name"] == "generic"
    for span in attempts[:2]:
        assert span.attributes["http.response.status_code"] == 503
        assert span.attributes["error.type"] == span.attributes["keel.attempt.outcome"] != "ok"
        assert span.status.status_code is StatusCode.ERROR
    last = attempts[2].attributes
    assert last["keel.attempt.outcome"] == "ok" and "error.type" not in last
    assert last["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    attributes = call.attributes
    assert attributes["gen_ai.request.model"] == "smart"
    assert attributes["gen_ai.response.model"] == response.model
    assert attributes["keel.route"] == f"mock/{healthy}"
    assert attributes["keel.status"] == "ok" and attributes["keel.attempts"] == 3
    assert attributes["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["keel.cache.hit"] is False
    assert not any("canary" in str(value) for s in spans for value in (s.attributes or {}).values())
    seen = [a["headers"].get("traceparent") for a in mock_server.attempts(model=failing)]
    seen += [a["headers"].get("traceparent") for a in mock_server.attempts(model=healthy)]
    assert seen == [traceparent(s) for s in attempts]


async def test_genai_instruments_count_each_attempt(gateway_for: GatewayFactory, uid: Any) -> None:
    """``gen_ai.client.operation.duration`` has one point per attempt sent (failed ones with their
    ``error.type``) and ``gen_ai.client.token.usage`` one input and one output per answer, their
    sums the usage the answers reported."""
    found = capture()
    failing, healthy = uid("error-503"), uid("ok:tokens=5")
    gateway = gateway_for({"smart": [[f"mock/{failing}"], [f"mock/{healthy}"]]}, **TRACED)
    answers = [await gateway.chat("smart", user()) for _ in range(2)]
    durations = [p for p in points(found.reader, "gen_ai.client.operation.duration")]
    failed = [p for p in durations if p.attributes.get("gen_ai.request.model") == failing]
    answered = [p for p in durations if p.attributes.get("gen_ai.request.model") == healthy]
    assert sum(p.count for p in failed) == 4 and all("error.type" in p.attributes for p in failed)
    assert sum(p.count for p in answered) == 2 and all("error.type" not in p.attributes for p in answered)
    assert {p.attributes["gen_ai.provider.name"] for p in failed + answered} == {"generic"}
    assert {p.attributes["gen_ai.operation.name"] for p in failed + answered} == {"chat"}
    usage = [p for p in points(found.reader, "gen_ai.client.token.usage")]
    mine = [p for p in usage if p.attributes.get("gen_ai.request.model") == healthy]
    by_type = {p.attributes["gen_ai.token.type"]: p for p in mine}
    assert by_type["input"].count == by_type["output"].count == 2
    usages = [a.usage for a in answers if a.usage is not None]
    assert by_type["output"].sum == sum(u.output_tokens for u in usages)
    assert by_type["input"].sum == sum(u.input_tokens for u in usages)


async def test_a_prompt_call_s_span_names_the_prompt_its_version_and_variant(
    gateway_for: GatewayFactory, uid: Any
) -> None:
    """A call through a split label: the call span carries keel.prompt.name, .version and .variant."""
    from keel.prompts import PromptVersion, open_prompt_store
    from keel.prompts.split import allocate

    found = capture()
    model = f"mock/{uid('ok')}"
    gateway = gateway_for({}, **TRACED)
    store = open_prompt_store(gateway.config.database)
    for number in (1, 2):
        await store.add_version(
            PromptVersion(name="greet", version=number, model=model, user_template="hi {who}"), by="t"
        )
    await store.move_label("greet", "production", allocate(None, {1: 50, 2: 50}), expected=None, by="t")
    await store.close()
    with trace.get_tracer("app").start_as_current_span("handler") as outer:
        response = await gateway.prompt("greet").chat(who="a", user="someone")
    spans = await _spans(found, outer.get_span_context().trace_id, 3)
    call = next(s for s in spans if s.name == "chat prompt:greet")
    version = int((response.prompt or "@0").split("@")[1])
    assert call.attributes["keel.prompt.name"] == "greet"
    assert call.attributes["keel.prompt.version"] == version
    assert call.attributes["keel.prompt.variant"] == f"v{version}"
