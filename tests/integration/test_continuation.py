"""Mid-stream continuation through the library: a stream cut after 40 of 60 tokens is finished by a
route that accepts an assistant prefill, never by one that does not, and the ledger keeps both attempts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keel import Gateway, StreamInterruptedError
from keel.mock import MockServer
from keel.mock.answer import prompt_tokens
from keel.stores.sqlite_ledger import SQLiteLedger

from .conftest import GatewayFactory, user

WHOLE = " ".join(f"token{i}" for i in range(60))
CONTINUE = {"router": {"continue_streams": True}}


def prefill(provider: str, model: str, accepts: bool | None = True) -> list[dict[str, Any]]:
    """A one-deployment tier whose prefill capability is set in config (or left to its provider)."""
    deployment: dict[str, Any] = {"provider": provider, "model": model}
    if accepts is not None:
        deployment["supports_prefill"] = accepts
    return [deployment]


async def read(gateway: Gateway) -> tuple[str, list[str], Any]:
    """The streamed text, each chunk's model, and the assembled response; one finish and at most one
    usage among the chunks."""
    handle = gateway.stream("smart", user())
    text, models, finishes, usages = "", [], [], []
    async for chunk in handle:
        text += chunk.text
        models.append(chunk.model)
        finishes += [choice.finish_reason for choice in chunk.choices if choice.finish_reason]
        usages += [chunk.usage] if chunk.usage else []
    assert finishes == ["stop"] and len(usages) <= 1
    return text, models, handle.response


async def ledger_rows(tmp_path: Path) -> list[dict[str, Any]]:
    ledger = SQLiteLedger(tmp_path / "keel.db")
    try:
        return await ledger.rows()
    finally:
        await ledger.close()


@pytest.mark.parametrize(
    ("first", "then"),
    [("mock", "claude"), ("mock", "mock"), ("claude", "mock"), ("claude", "claude")],
    ids=["openai-then-claude", "openai-then-openai", "claude-then-openai", "claude-then-claude"],
)
async def test_a_cut_stream_is_finished_where_prefill_is_accepted(
    claude_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid, first: str, then: str
) -> None:
    """The caller gets exactly token0…token59; the fallback saw the 40 delivered as a prefill and
    finished the answer, naming its model; the ledger keeps each attempt's usage and cost."""
    cut, finisher = uid("cut:after=40,tokens=60"), uid("ok:tokens=60")
    gateway = claude_for({"smart": [[f"{first}/{cut}"], prefill(then, finisher)]}, **CONTINUE)
    text, models, response = await read(gateway)
    assert text == WHOLE
    assert models[0] == cut and models[-1] == finisher and response.model == finisher
    [seen] = mock_server.attempts(model=finisher)
    assert seen["last_role"] == "assistant"
    turns = seen["body"]["messages"]
    last = turns[-1]["content"]
    assert (last if isinstance(last, str) else last[0]["text"]) == " ".join(f"token{i}" for i in range(40))
    await gateway.aclose()
    [row] = await ledger_rows(tmp_path)
    assert row["status"] == "ok" and row["model"] == finisher and row["route"] == f"{then}/{finisher}"
    cut_attempt, finishing = row["attempts"]
    assert cut_attempt["route"] == f"{first}/{cut}" and cut_attempt["delivered_bytes"] > 0
    assert (cut_attempt["outcome"], cut_attempt["reason"]) == ("cut", "first")
    assert (finishing["outcome"], finishing["reason"]) == ("ok", "continuation")
    assert finishing["usage"]["output_tokens"] == 20
    # The record counts the tokens each attempt was billed for: the cut one's bound, the finisher's usage.
    assert row["output_tokens"] == cut_attempt["delivered_bytes"] + 20
    assert row["input_tokens"] == cut_attempt["input_bound"] + finishing["usage"]["input_tokens"]
    # The caller is told the whole answer's output: the 40 tokens of the cut part and the 20 after it.
    assert response.usage.output_tokens == 60
    assert response.usage.input_tokens == finishing["usage"]["input_tokens"]
    costs = [Decimal(attempt["cost"]) for attempt in row["attempts"]]
    assert all(costs) and row["cost_usd"] == sum(costs)


@pytest.mark.parametrize(
    ("provider", "accepts"), [("mock", None), ("claude", False)], ids=["profile-says-no", "config-says-no"]
)
async def test_a_route_without_prefill_is_not_tried_and_the_cut_is_reported(
    claude_for: GatewayFactory, mock_server: MockServer, uid, provider: str, accepts: bool | None
) -> None:
    """When the next route cannot take a prefill (by its provider's profile, or as configured), the
    caller gets the original cut, and that route was never sent a conversation ending in an assistant
    message."""
    cut, refuser = uid("cut:after=40,tokens=60"), uid("no-prefill:tokens=60")
    gateway = claude_for({"smart": [[f"mock/{cut}"], prefill(provider, refuser, accepts)]}, **CONTINUE)
    with pytest.raises(StreamInterruptedError, match=r"interrupted after 41 chunks.*cut short") as info:
        await read(gateway)
    assert info.value.partial.text == " ".join(f"token{i}" for i in range(40))
    assert [r for r in mock_server.attempts(model=refuser) if r["last_role"] == "assistant"] == []


async def test_a_failing_continuation_reports_the_original_cut(
    claude_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A prefill-capable route that fails too is not what the caller hears about: the cut is."""
    cut, down = uid("cut:after=40,tokens=60"), uid("error-503")
    gateway = claude_for(
        {"smart": [[f"mock/{cut}"], prefill("mock", down)]}, retry={"max_attempts": 1}, **CONTINUE
    )
    with pytest.raises(StreamInterruptedError, match="cut short"):
        await read(gateway)
    assert [r["last_role"] for r in mock_server.attempts(model=down)] == ["assistant"]


async def test_continuation_is_off_by_default(
    claude_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """Without router.continue_streams a cut stream is reported, and no other route is asked."""
    cut, finisher = uid("cut:after=40,tokens=60"), uid("ok:tokens=60")
    gateway = claude_for({"smart": [[f"mock/{cut}"], prefill("claude", finisher)]})
    with pytest.raises(StreamInterruptedError):
        await read(gateway)
    assert mock_server.attempts(model=finisher) == []


@pytest.mark.parametrize("then", ["claude", "mock"], ids=["then-claude", "then-openai"])
async def test_a_cut_after_whitespace_is_continued_without_it(
    claude_for: GatewayFactory, mock_server: MockServer, uid, then: str
) -> None:
    """A cut whose last piece ends in a space ("token39 "): Anthropic refuses a prefill ending in
    whitespace, so the prefill is "…token39", and the space the caller already has is not repeated
    when the continuation starts " token40": the caller gets each word once, singly spaced."""
    cut = uid("cut:after=40,tokens=60,trailing_space=1")
    finisher = uid("ok:tokens=60,trailing_space=1")
    gateway = claude_for({"smart": [[f"mock/{cut}"], prefill(then, finisher)]}, **CONTINUE)
    text, _, response = await read(gateway)
    assert text == WHOLE and response.model == finisher
    [seen] = mock_server.attempts(model=finisher)
    assert seen["outcome"] == "ok"
    last = seen["body"]["messages"][-1]["content"]
    assert (last if isinstance(last, str) else last[0]["text"]) == " ".join(f"token{i}" for i in range(40))
    await gateway.aclose()


@pytest.mark.parametrize("after", [10, 20, 40])
async def test_the_caller_is_told_the_whole_answers_usage(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, after: int
) -> None:
    """Cut after 10, 20 or 40 of 60 tokens and continued: the one usage the caller gets counts all 60
    output tokens it received, not only the finishing part's."""
    cut, finisher = uid(f"cut:after={after},tokens=60"), uid("ok:tokens=60")
    gateway = gateway_for({"smart": [[f"mock/{cut}"], prefill("mock", finisher)]}, **CONTINUE)
    text, _, response = await read(gateway)
    assert text == WHOLE
    [seen] = mock_server.attempts(model=finisher)
    assert response.usage.output_tokens == 60
    assert response.usage.input_tokens == prompt_tokens(seen["body"])  # what the finishing route read


@pytest.mark.parametrize("usage", [True, False], ids=["usage-then-end", "end-before-usage"])
async def test_a_finished_stream_without_done_is_not_continued(
    gateway_for: GatewayFactory, mock_server: MockServer, tmp_path: Path, uid, usage: bool
) -> None:
    """The finish chunk (and usage), then the body ends without [DONE]: the answer is complete, so no
    route is asked to continue it; the caller gets one finish and the upstream's usage, and the ledger
    one ok attempt on the route that answered."""
    nodone = uid("no-done:tokens=60" + ("" if usage else ",usage=0"))
    finisher = uid("ok:tokens=60")
    gateway = gateway_for({"smart": [[f"mock/{nodone}"], prefill("mock", finisher)]}, **CONTINUE)
    text, models, response = await read(gateway)
    assert text == WHOLE and set(models) == {nodone} and response.model == nodone
    assert (response.usage.output_tokens if response.usage else None) == (60 if usage else None)
    assert mock_server.attempts(model=finisher) == []
    await gateway.aclose()
    [row] = await ledger_rows(tmp_path)
    assert row["status"] == "ok" and row["route"] == f"mock/{nodone}"
    assert [(a["route"], a["outcome"]) for a in row["attempts"]] == [(f"mock/{nodone}", "ok")]
