"""Structured output from the local model, offline: the grammar llama.cpp builds from the (bounded)
schema gives schema-valid JSON on every prompt; a schema it cannot compile falls back to JSON mode;
an answer cut at ``max_tokens`` is asked again."""

from __future__ import annotations

import importlib.util
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from keel import Gateway, OutputValidationError
from keel.providers._llama_runtime import LocalModelUnavailable, find_default_gguf

from .._requires import missing
from .conftest import GatewayFactory, user

pytestmark = pytest.mark.local_model


def _extra_missing() -> str | None:
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp (the local-model extra)"
    try:
        find_default_gguf()
    except LocalModelUnavailable as error:
        return f"the local model's weights (the local-model extra: {error})"
    return None


if (_missing_part := _extra_missing()) is not None:
    missing(_missing_part)

# A loaded 2-core machine can take seconds for the model load and each answer: a minute in all.
LOCAL_TIMEOUTS = {"first_token": 30, "idle": 10, "attempt": 30, "total": 60}


def local_gateway(gateway_for: GatewayFactory) -> Gateway:
    return gateway_for({"tiny": ["local"]}, providers={"local": {"kind": "local"}}, timeouts=LOCAL_TIMEOUTS)


class Stop(BaseModel):
    city: str = Field(max_length=16)
    nights: int = Field(ge=1, le=14)


class Trip(BaseModel):
    transport: Literal["train", "plane", "car", "boat"]
    stops: list[Stop] = Field(min_length=1, max_length=2)
    budget_eur: float = Field(ge=0, le=5000)


PEOPLE = ["Alice", "Bob", "Chen", "Dara", "Emeka"]
PLANS = [
    "{who} takes the train from Paris to Rome and stays 3 nights, then 2 in Florence. Budget 900 euros.",
    "{who} flies to Tokyo for a week on a budget of 2500 euros.",
    "Plan a road trip by car for {who}: Lyon for 2 nights, Geneva for 1, total 600 euros.",
    "{who} wants a cheap boat trip to the Greek islands, 4 nights in Naxos, maybe 400 euros.",
]
PROMPTS = [plan.format(who=who) for plan in PLANS for who in PEOPLE]  # 20 varied prompts


async def test_grammar_constrained_answers_validate_on_every_prompt(gateway_for: GatewayFactory) -> None:
    """A nested schema (an object with a list of objects, an enum, number ranges) gives a valid
    ``Trip`` on each of 20 prompts with no re-ask: the facts may be wrong, the shape is not."""
    assert len(set(PROMPTS)) == 20
    gateway = local_gateway(gateway_for)
    for prompt in PROMPTS:
        # 500 tokens hold the longest answer the bounded grammar allows: it is never cut.
        trip = await gateway.structured(
            Trip, user(prompt), model="tiny", max_reasks=0, max_tokens=500, temperature=0
        )
        assert isinstance(trip, Trip) and trip.stops


ANCHORED = {
    "type": "object",
    "$defs": {"word": {"$anchor": "word", "type": "string"}},
    "properties": {"colour": {"$ref": "#word"}},
    "required": ["colour"],
}


async def test_a_schema_llama_cpp_cannot_compile_is_answered_all_the_same(
    gateway_for: GatewayFactory,
) -> None:
    """A valid schema whose ``$anchor`` reference llama.cpp refuses (HTTP 400) is not an error for the
    caller: the route is asked again with the schema stated and a weaker grammar, and the answer is
    JSON checked against the schema."""
    gateway = local_gateway(gateway_for)
    try:
        value = await gateway.structured(
            ANCHORED, user("Name one colour."), model="tiny", max_reasks=2, max_tokens=60
        )
    except OutputValidationError as error:  # a 135M model may not follow a schema its grammar lacks
        assert all(attempt.outcome == "ok" for attempt in error.attempts)
    else:
        assert isinstance(value["colour"], str)


async def test_an_answer_cut_at_max_tokens_is_asked_again(gateway_for: GatewayFactory) -> None:
    """The local model's ``finish_reason: length`` counts as a cut answer: it is asked again (never
    repaired into a success), and the error says the answer was cut."""
    gateway = local_gateway(gateway_for)
    with pytest.raises(OutputValidationError) as caught:
        await gateway.structured(Trip, user(PROMPTS[0]), model="tiny", max_reasks=1, max_tokens=6)
    assert [attempt.reason for attempt in caught.value.attempts] == ["first", "reask"]
    assert "cut at the output limit" in caught.value.message
