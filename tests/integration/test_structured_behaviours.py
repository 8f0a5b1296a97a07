"""Each way a model gets structured output wrong, through ``gw.structured`` against ``keel mock``:
repaired with no re-ask where repair suffices, one re-ask where it does not, and for an answer that
is always wrong, a clear error after exactly ``max_reasks`` re-asks (the mock saw ``max_reasks + 1``
calls). A refusal is its own outcome, never asked again."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import pytest
from pydantic import BaseModel, Field

from keel import OutputRefusedError, OutputValidationError
from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger
from keel.telemetry.metrics import REGISTRY

from .conftest import GatewayFactory, user


class Ticket(BaseModel):
    title: str
    priority: Literal["low", "high"]
    estimate: int = Field(ge=0)
    links: list[str]


def links_parse(ticket: Ticket) -> None:
    """Every link written as a URL must parse as one (the mock's healthy answers' links are words)."""
    written = [link for link in ticket.links if ":/" in link]
    bad = [
        link
        for link in written
        if urlparse(link).scheme not in ("http", "https") or not urlparse(link).netloc
    ]
    if bad:
        raise ValueError(f"not URLs: {', '.join(bad)}")


@pytest.mark.parametrize(
    ("behaviour", "calls"),
    [
        ("json-fenced", 1),  # repaired, no re-ask
        ("json-prose", 1),
        ("json-repairable", 1),
        ("json-invalid", 2),  # wrong once, then valid: one re-ask
        ("json-truncated", 2),
        ("json-wrong-type:times=1", 2),
        ("json-missing-field:times=1", 2),
        ("json-bad-urls:times=1", 2),
    ],
)
async def test_repair_or_one_reask_gives_the_valid_object(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, behaviour: str, calls: int
) -> None:
    model = uid(behaviour)
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    ticket = await gateway.structured(Ticket, user("file a ticket"), model="smart", validators=[links_parse])

    assert isinstance(ticket, Ticket)
    assert len(mock_server.attempts(model=model)) == calls


@pytest.mark.parametrize("behaviour", ["json-wrong-type", "json-missing-field", "json-bad-urls"])
async def test_an_answer_always_wrong_fails_after_exactly_max_reasks(
    gateway_for: GatewayFactory, mock_server: MockServer, uid, behaviour: str
) -> None:
    model = uid(behaviour)
    gateway = gateway_for({"smart": [f"mock/{model}"]})

    with pytest.raises(OutputValidationError) as info:
        await gateway.structured(Ticket, user(), model="smart", validators=[links_parse], max_reasks=2)

    assert len(mock_server.attempts(model=model)) == 3
    assert [a.reason for a in info.value.attempts] == ["first", "reask", "reask"]
    assert info.value.problems
    if behaviour == "json-bad-urls":
        assert "htp:/broken-1" in info.value.problems[0]


async def test_a_refusal_is_returned_as_such_and_never_asked_again(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    model = uid("refusal")
    gateway = gateway_for({"smart": [f"mock/{model}"]})

    with pytest.raises(OutputRefusedError) as info:
        await gateway.structured(Ticket, user(), model="smart")

    assert info.value.refusal == "I can't help with that."
    assert len(mock_server.attempts(model=model)) == 1


async def test_the_reask_after_a_truncated_answer_says_it_was_cut(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    model = uid("json-truncated")
    gateway = gateway_for({"smart": [f"mock/{model}"]})
    await gateway.structured(Ticket, user(), model="smart")
    reask = mock_server.attempts(model=model)[1]["body"]["messages"]
    assert reask[-2]["role"] == "assistant" and not reask[-2]["content"].rstrip().endswith("}")
    assert "cut off at the output limit" in reask[-1]["content"]


async def test_the_ledger_and_the_metrics_record_each_call_s_validation(
    gateway_for: GatewayFactory, uid, tmp_path: Path
) -> None:
    gateway = gateway_for(
        {
            "fenced": [f"mock/{uid('json-fenced')}"],
            "twice": [f"mock/{uid('json-invalid')}"],
            "never": [f"mock/{uid('json-missing-field')}"],
        },
        metrics={"max_label_values": 100_000},  # model labels as named, whatever this process saw before
    )
    before = {o: sample("keel_structured_outputs_total", model="twice", outcome=o) for o in ("reasked",)}
    await gateway.structured(Ticket, user(), model="fenced")
    await gateway.structured(Ticket, user(), model="twice")
    with pytest.raises(OutputValidationError):
        await gateway.structured(Ticket, user(), model="never", max_reasks=1)
    await gateway.chat("fenced", user())  # no structured output asked for: no validation recorded
    await gateway.aclose()

    ledger = SQLiteLedger(tmp_path / "keel.db")
    rows = {
        row["requested_model"] + ("/plain" if row["validation"] is None else ""): row
        for row in await ledger.rows()
    }
    await ledger.close()
    assert (rows["fenced"]["validation"], rows["fenced"]["reasks"]) == ("repaired", 0)
    assert (rows["twice"]["validation"], rows["twice"]["reasks"]) == ("valid", 1)
    assert (rows["never"]["validation"], rows["never"]["reasks"]) == ("failed", 1)
    assert rows["never"]["status"] != "ok" and len(rows["never"]["attempts"]) == 2
    assert rows["fenced/plain"]["reasks"] is None
    assert sample("keel_structured_outputs_total", model="twice", outcome="reasked") == before["reasked"] + 1
    assert sample("keel_structured_outputs_total", model="never", outcome="failed") >= 1


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_reasks_move_on_from_a_route_whose_answers_failed_twice(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    wrong, right = uid("json-missing-field"), uid("ok:tokens=1")
    gateway = gateway_for(
        {"smart": [[f"mock/{wrong}"], [f"mock/{right}"]]}, structured_output={"next_route_after": 2}
    )

    ticket = await gateway.structured(Ticket, user(), model="smart", max_reasks=3)

    assert isinstance(ticket, Ticket)
    assert len(mock_server.attempts(model=wrong)) == 2 and len(mock_server.attempts(model=right)) == 1
