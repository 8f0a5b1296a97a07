"""Nothing leaks: a canary e-mail address, card number and key sent through every endpoint of a real
``keel serve`` — in prompts, system text, the ``user`` field, headers, tool arguments (in the
history and in the mock's answer) and upstream error bodies, streamed and not — appear in no log
line, span, metric, ledger column or admin API answer; with ``capture.content`` on they are kept
redacted, and with it off no content is kept at all."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import orjson
import pytest

from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger
from keel.telemetry.logs import set_format

from ..otel_capture import Capture, capture
from .conftest import KeelFactory, RunningKeel

EMAIL = "canary.leak@example.com"
CARD = "4111 1111 1111 1111"
# Key-shaped canaries are made at run time: no committed line looks like a live key.
KEY = "sk-" + "canary" + secrets.token_hex(12)
MASTER = "sk-" + "master" + secrets.token_hex(12)
PROVIDER_KEY = "sk-" + "provider" + secrets.token_hex(12)
SECRET_TEXT = f"Mail {EMAIL}, card {CARD}, key {KEY}."
CANARIES = (EMAIL, "canary.leak", CARD, CARD.replace(" ", ""), KEY, MASTER, PROVIDER_KEY)
TOOL = {  # the mock fills a tool call's arguments from the schema: these consts, the canaries
    "type": "object",
    "properties": {"to": {"const": EMAIL}, "card": {"const": CARD}, "key": {"const": KEY}},
}
# An answer's arguments without the key: the default output guard lets it through.
NO_KEY_TOOL = {"type": "object", "properties": {"to": {"const": EMAIL}, "card": {"const": CARD}}}
HISTORY_ARGS = orjson.dumps({"to": EMAIL, "card": CARD, "key": KEY}).decode()


class Lines(logging.Handler):
    """Every line the server's loggers write (Keel's and uvicorn's), as ``keel serve`` formats them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(name) for name in ("keel", "uvicorn")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
    set_format("kv")


def start(keel_for: KeelFactory, tmp_path: Path, tag: str, *, content: bool) -> RunningKeel:
    """A server on the mock (OpenAI and Anthropic sides) with a prompt, tracing into memory, call
    logs as JSON and the master key; ``content`` turns capture on."""
    folder = tmp_path / f"prompts-{content}" / "brief"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(
        "model: ok\nuser_template: 'Summarise: {document}'\nvariables: {document: {untrusted: true}}\n"
        "label: production\n"
    )
    ok, bad = f"ok:tokens=3,id={tag}", f"content-policy:quote=1,id={tag}"
    return keel_for(
        {
            "ok": [f"mock/{ok}"],
            "claude-ok": [f"claude/{ok}"],
            "bad": [f"mock/{bad}"],
            "claude-bad": [f"claude/{bad}"],
            "down": [f"mock/error-503:quote=1,id={tag}"],
        },
        server={"master_key": MASTER},
        providers={"mock": {"api_key": PROVIDER_KEY}, "claude": {"api_key": PROVIDER_KEY}},
        retry={"max_attempts": 2},
        tracing={"enabled": True, "exporter": "global"},
        logging={"format": "json", "calls": "info"},
        ledger={"durability": "strict"},
        prompts={"dir": str(folder.parent)},
        capture={"content": content, "max_chars": 4000},
        # With capture on, the default output guard stops answers that carry a key; with it off the
        # answers go through whole, so both paths are crossed.
        guards={} if content else {"output": []},
    )


def assert_quoted_redacted(message: str) -> None:
    """An upstream error that quoted the prompt reaches the client with the canaries masked."""
    assert "Offending input" in message and "[EMAIL]" in message and "[CARD]" in message, message
    assert not any(canary in message for canary in CANARIES), message


def openai_calls(running: RunningKeel) -> list[str]:
    """Chat completions through the official SDK, plain, streamed, with a tool answer, and failing
    with an error body that quotes the prompt; returns the request ids the server answered."""
    ids: list[str] = []
    headers = {"x-canary": SECRET_TEXT, "x-request-id": KEY, "x-user-email": EMAIL}
    messages: list[Any] = [
        {"role": "system", "content": f"Operator key {KEY}"},
        {"role": "user", "content": SECRET_TEXT},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "send", "arguments": HISTORY_ARGS}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"sent to {EMAIL}"},
        {"role": "user", "content": SECRET_TEXT},
    ]
    tool_sets: Any = [
        [{"type": "function", "function": {"name": "send", "parameters": schema}}]
        for schema in (TOOL, NO_KEY_TOOL)
    ]
    with openai.OpenAI(base_url=running.v1, api_key=MASTER, max_retries=0, timeout=10) as sdk:
        for stream in (False, True):
            raw = sdk.chat.completions.with_raw_response.create(
                model="ok", messages=messages, user=EMAIL, stream=stream, extra_headers=headers
            )
            ids.append(raw.headers["x-request-id"])
            if stream:
                assert any(chunk.choices for chunk in raw.parse())
            else:
                assert raw.parse().choices[0].message.content
            for tools in tool_sets:
                try:
                    tooled = sdk.chat.completions.create(
                        model="ok", messages=messages, tools=tools, stream=stream, extra_headers=headers
                    )
                    for _ in tooled if stream else ():  # type: ignore[union-attr]
                        pass
                except openai.APIError:
                    pass  # with capture on, the default output guard stops an answer carrying a key
            for model in ("bad", "down"):
                with pytest.raises(openai.APIStatusError) as failed:
                    answer = sdk.chat.completions.create(
                        model=model, messages=messages, stream=stream, extra_headers=headers
                    )
                    for _ in answer if stream else ():  # type: ignore[union-attr]
                        pass
                assert_quoted_redacted(failed.value.message)
        embedded = sdk.embeddings.with_raw_response.create(model="ok", input=[SECRET_TEXT], user=EMAIL)
        assert embedded.parse().data
    return ids


def anthropic_calls(running: RunningKeel) -> None:
    """Messages through the official SDK, plain and streamed, with tool use in the history and the
    answer, failing with a quoting error body; and a token count."""
    messages: Any = [
        {"role": "user", "content": SECRET_TEXT},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "send", "input": TOOL}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": SECRET_TEXT}]},
    ]
    tool_sets: Any = [[{"name": "send", "input_schema": schema}] for schema in (TOOL, NO_KEY_TOOL)]
    headers = {"x-canary": SECRET_TEXT}
    common: Any = {"system": f"Operator key {KEY}", "max_tokens": 50, "extra_headers": headers}
    with anthropic.Anthropic(base_url=running.base_url, api_key=MASTER, max_retries=0, timeout=10) as sdk:
        for stream in (False, True):
            plain: Any = {
                "model": "claude-ok",
                "messages": messages,
                "metadata": {"user_id": EMAIL},
                **common,
            }
            if stream:
                with sdk.messages.stream(**plain) as s:
                    assert s.get_final_message().content
            else:
                assert sdk.messages.create(**plain)
            for tools in tool_sets:
                try:
                    if stream:
                        with sdk.messages.stream(
                            model="claude-ok", messages=messages, tools=tools, **common
                        ) as s:
                            s.get_final_message()
                    else:
                        sdk.messages.create(model="claude-ok", messages=messages, tools=tools, **common)
                except anthropic.APIError:
                    pass  # with capture on, the default output guard stops an answer carrying a key
            with pytest.raises(anthropic.APIStatusError) as failed:
                if stream:
                    with sdk.messages.stream(model="claude-bad", messages=messages, **common) as s:
                        s.get_final_message()
                else:
                    sdk.messages.create(model="claude-bad", messages=messages, **common)
            assert_quoted_redacted(failed.value.message)
        counted = sdk.messages.count_tokens(
            model="claude-ok", messages=messages, system=f"Operator key {KEY}", extra_headers=headers
        )
        assert counted.input_tokens > 0


def other_calls(running: RunningKeel, request_id: str) -> None:
    """The prompts endpoint with a canary variable, and feedback whose comment carries them."""
    auth = {"authorization": f"Bearer {MASTER}"}
    with httpx.Client(base_url=running.v1, headers=auth, timeout=10) as client:
        rendered = client.post("/prompts/brief/completions", json={"variables": {"document": SECRET_TEXT}})
        assert rendered.status_code == 200, rendered.text
        scored = client.post("/feedback", json={"request_id": request_id, "score": 1, "comment": SECRET_TEXT})
        assert scored.status_code == 201, scored.text
        refused = client.post("/feedback", json={"request_id": KEY, "score": 1})
        assert refused.status_code == 400 and KEY not in refused.text


def ledger(running: RunningKeel) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """Every ledger row, and every row of the feedback table, straight from the database file."""
    path = Path(running.app.gateway.config.database.removeprefix("sqlite:///"))

    async def read() -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
        store = SQLiteLedger(path)
        try:
            rows = await store.rows(1000)
            db = await store._conn()
            async with db.execute("SELECT * FROM feedback") as cursor:
                feedback = [tuple(row) for row in await cursor.fetchall()]
            return rows, feedback
        finally:
            await store.close()

    return asyncio.run(read())


def wait_for(found: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.02)
    raise AssertionError(f"no {what}")


def everything(
    running: RunningKeel, lines: Lines, found: Capture, trace_ids: set[int]
) -> tuple[str, list[Any]]:
    """All the server wrote or answers about the calls: log lines, spans, metrics (GenAI instruments
    and the Prometheus scrape), ledger and feedback rows, and the admin API's answers."""
    admin = {"authorization": f"Bearer {MASTER}"}
    rows, feedback = ledger(running)
    spans = [s for s in found.spans.get_finished_spans() if s.context and s.context.trace_id in trace_ids]
    answers = [
        httpx.get(f"{running.base_url}{path}", headers=admin, timeout=10).text
        for path in ("/admin/calls?limit=1000", "/admin/usage?by=user,key,model,route", "/admin/keys")
    ]
    metrics = found.reader.get_metrics_data()
    text = "\n".join(
        [
            *lines.lines,
            *(span.to_json() for span in spans),
            metrics.to_json() if metrics else "",
            httpx.get(f"{running.base_url}/metrics", timeout=10).text,
            *(orjson.dumps(row, default=str).decode() for row in rows),
            *(repr(row) for row in feedback),
            *answers,
        ]
    )
    return text, rows


@pytest.mark.parametrize("content", [True, False], ids=["capture-on", "capture-off"])
def test_canaries_through_every_endpoint_reach_nothing_keel_writes(
    keel_for: KeelFactory, upstream: MockServer, lines: Lines, tmp_path: Path, content: bool
) -> None:
    """Every endpoint, streamed and not, with the canaries in prompts, system text, ``user`` and
    metadata, headers (an ``x-request-id`` that is a key too), tool arguments in the history and
    the answer, a prompt's variable, feedback and upstream error bodies that quote them: none
    appears anywhere Keel writes or answers about the call. With capture on, each call's ledger
    row and span carry its content redacted; with it off, none does."""
    found = capture()
    tag = uuid.uuid4().hex[:8]
    running = start(keel_for, tmp_path, tag, content=content)
    ids = openai_calls(running)
    assert KEY not in ids  # the client's key-shaped x-request-id was not adopted
    anthropic_calls(running)
    other_calls(running, ids[0])
    quoted = [a for a in upstream.attempts() if f"id={tag}" in a["model"] and "quote=1" in a["model"]]
    assert quoted, "the mock was asked for errors that quote the request"

    rows = wait_for(lambda: len(r := ledger(running)[0]) >= 19 and r, "ledger rows")
    request_ids = {row["request_id"] for row in rows}
    trace_ids = {
        span.context.trace_id
        for span in found.spans.get_finished_spans()
        if span.context and span.attributes and span.attributes.get("keel.request_id") in request_ids
    }
    text, rows = everything(running, lines, found, trace_ids)
    for canary in CANARIES:
        assert canary not in text, canary
    assert {row["status"] for row in rows} >= {"ok", "content_policy_violation"}

    call_spans = [
        s
        for s in found.spans.get_finished_spans()
        if s.context and s.context.trace_id in trace_ids and s.attributes and "keel.status" in s.attributes
    ]
    assert len(call_spans) == len(rows)
    captured = [row["content"] for row in rows]
    on_spans = [s.attributes.get("gen_ai.input.messages") for s in call_spans if s.attributes]
    if not content:
        assert captured == [None] * len(rows) and on_spans == [None] * len(call_spans)
        assert not any("gen_ai.output.messages" in (s.attributes or {}) for s in call_spans)
        return
    assert all(captured) and all(on_spans)
    plain = next(row for row in rows if row["request_id"] == ids[0])
    system, messages, output = (plain["content"][side] for side in ("system", "input", "output"))
    assert system == [{"type": "text", "content": "Operator key [SECRET]"}]
    arguments = '{"to":"[EMAIL]","card":"[CARD]","key":"[SECRET]"}'
    assert messages[1]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "send", "arguments": arguments}
    ]
    assert messages[-1]["parts"][0]["content"] == "Mail [EMAIL], card [CARD], key [SECRET]."
    assert output[0]["parts"][0]["type"] == "text" and output[0]["finish_reason"] == "stop"
    answered_tools = [
        part
        for row in rows
        for message in row["content"]["output"] or ()
        for part in message["parts"]
        if part["type"] == "tool_call" and row["status"] == "ok"
    ]
    assert len(answered_tools) == 4  # the answers without a key, both APIs, streamed and not
    assert all("[EMAIL]" in part["arguments"] and "[CARD]" in part["arguments"] for part in answered_tools)
    streamed = next(row for row in rows if row["request_id"] == ids[1])
    assert streamed["stream"] and streamed["content"]["output"][0]["parts"][0]["content"]
    span = next(s for s in call_spans if s.attributes and s.attributes["keel.request_id"] == ids[0])
    assert orjson.loads(str(span.attributes["gen_ai.input.messages"])) == messages  # type: ignore[index]
    assert orjson.loads(str(span.attributes["gen_ai.output.messages"])) == output  # type: ignore[index]
    failed = next(row for row in rows if row["status"] == "content_policy_violation" and not row["stream"])
    assert failed["content"]["output"] is None and failed["content"]["input"]
    one = httpx.get(
        f"{running.base_url}/admin/calls",
        params={"request_id": ids[0]},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=10,
    ).json()["data"]
    assert [row["content"] for row in one] == [plain["content"]]
