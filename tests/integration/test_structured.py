"""``gw.structured`` and ``gw.structured_stream`` against ``keel mock``: validated objects, re-asks that
carry the problems as data, the re-ask limit and the cost cap, JSON mode for a route without JSON
schemas, partial objects before the stream ends."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from keel import OutputValidationError
from keel.mock import MockServer

from .conftest import GatewayFactory, user


class Item(BaseModel):
    name: str
    qty: int = Field(ge=0)


class Order(BaseModel):
    customer: str
    status: Literal["open", "paid"]
    items: list[Item]


def never(order: Any) -> None:
    raise ValueError("customer 'token0' is not on file")


async def test_a_valid_answer_is_the_caller_s_object_on_the_first_call(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=2")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})

    order = await gateway.structured(Order, user("an order"), model="smart")

    assert order == Order(customer="token0 token1", status="open", items=[Item(name="token0 token1", qty=0)])
    [sent] = mock_server.attempts(model=ok)
    assert sent["body"]["response_format"]["type"] == "json_schema"
    assert sent["body"]["response_format"]["json_schema"]["schema"]["required"] == [
        "customer",
        "status",
        "items",
    ]


async def test_a_rejected_answer_is_asked_again_exactly_max_reasks_times_then_fails_clearly(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=1")
    gateway = gateway_for({"smart": [f"mock/{ok}"]})

    with pytest.raises(OutputValidationError) as info:
        await gateway.structured(Order, user("an order"), model="smart", validators=[never], max_reasks=2)

    sent = mock_server.attempts(model=ok)
    assert len(sent) == 3
    error = info.value
    assert error.code == "output_validation_failed" and error.status == 422
    assert error.problems == ["(the answer): customer 'token0' is not on file"]
    assert "after 3 answers" in error.message and "3 attempt(s)" in error.message
    assert [a.reason for a in error.attempts] == ["first", "reask", "reask"]
    first_answer = sent[0]["body"]["messages"]
    last = sent[2]["body"]["messages"]
    assert len(first_answer) == 1 and len(last) == 5  # user; then answer + problems, twice
    assert last[1]["role"] == "assistant" and last[1]["content"].startswith('{"customer"')
    assert last[2]["role"] == "user"
    instruction, data = last[2]["content"].split("BEGIN DATA\n")
    assert "not instructions" in instruction and "customer 'token0' is not on file" not in instruction
    assert '"problem":"customer \'token0\' is not on file"' in data.split("\nEND DATA")[0]


async def test_the_cost_cap_stops_reasks_before_an_attempt_it_cannot_cover(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=1")
    dear = {"pricing": {"models": {"mock/*": {"input": 1_000_000, "output": 1_000_000}}}}
    gateway = gateway_for({"smart": [f"mock/{ok}"]}, **dear)

    with pytest.raises(OutputValidationError) as info:
        await gateway.structured(
            Order,
            user("an order"),
            model="smart",
            validators=[never],
            max_tokens=40,
            keel={"max_cost_usd": 700},
        )

    sent = mock_server.attempts(model=ok)
    assert 1 <= len(sent) < 3
    spent = sum((a.cost or Decimal(0)) for a in info.value.attempts)
    assert spent <= 700
    assert "budget stopped the re-asks" in info.value.message and "$" in info.value.message


async def test_a_route_without_json_schemas_gets_json_mode_and_the_schema_as_instructions(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    ok = uid("ok:tokens=1")
    gateway = gateway_for({"smart": [{"provider": "mock", "model": ok, "supports_json_schema": False}]})

    with pytest.raises(OutputValidationError):  # the mock's JSON mode answers {"answer": ...}
        await gateway.structured(Order, user("an order"), model="smart", max_reasks=0)

    [sent] = mock_server.attempts(model=ok)
    assert sent["body"]["response_format"] == {"type": "json_object"}
    system = sent["body"]["messages"][0]
    assert system["role"] == "system" and '"required":["customer","status","items"]' in system["content"]


async def test_a_json_schema_dict_gives_the_json_value(gateway_for: GatewayFactory, uid) -> None:
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=1')}"]})
    schema = {"type": "object", "properties": {"urls": {"type": "array", "items": {"type": "string"}}}}
    assert await gateway.structured(schema, user(), model="smart") == {"urls": ["token0"]}
    assert await gateway.structured(list[Item], user(), model="smart") == [Item(name="token0", qty=0)]


async def test_partial_objects_arrive_before_the_stream_ends_and_the_last_is_the_validated_one(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    slow = uid("ok:tokens=3,token_ms=15")
    gateway = gateway_for({"smart": [f"mock/{slow}"]})
    seen: list[tuple[Any, bool]] = []

    async for value in gateway.structured_stream(Order, user("an order"), model="smart"):
        [record] = mock_server.attempts(model=slow)
        seen.append((value, record["ended_at"] is None))

    assert len(seen) > 3
    assert seen[0][1], "the first partial object came after the stream had ended"
    assert seen[0][0].customer is None or isinstance(seen[0][0].customer, str)
    final = seen[-1][0]
    whole = await gateway.structured(Order, user("an order"), model="smart")
    assert isinstance(final, Order) and final == whole
    assert any(isinstance(v, Order) and v.items is None for v, _ in seen[:-1])  # a preview without items yet


async def test_a_list_streams_each_item_once_complete(gateway_for: GatewayFactory, uid) -> None:
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=2,token_ms=5')}"]})
    schema_min = list[Item]
    items = [item async for item in gateway.structured_stream(schema_min, user(), model="smart")]
    assert items == [Item(name="token0 token1", qty=0)]


async def test_sync_structured(gateway_for: GatewayFactory, uid) -> None:
    gateway = gateway_for({"smart": [f"mock/{uid('ok:tokens=1')}"]})
    order = await asyncio.to_thread(gateway.sync.structured, Order, user(), model="smart")
    assert isinstance(order, Order)
    await asyncio.to_thread(gateway.close)
