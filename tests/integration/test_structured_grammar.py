"""A llama.cpp route (the ``llamacpp`` profile, here on ``keel mock``) is sent a bounded copy of the
schema for its grammar, and a schema it cannot compile is asked for in JSON mode — once refused,
never sent to it as a grammar again."""

from __future__ import annotations

from typing import Any

from keel.mock import MockServer
from keel.structured.bounded_schema import ARRAY_ITEMS, STRING_LENGTH

from .conftest import GatewayFactory, user

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["answer"],
}


def llama(gateway_for: GatewayFactory, mock_server: MockServer, models: dict[str, Any]) -> Any:
    """A gateway whose ``llama`` provider is the mock spoken to with the llama.cpp profile."""
    return gateway_for(
        models,
        providers={"llama": {"profile": "llamacpp", "base_url": mock_server.base_url}},
        pricing={"models": {"llama/*": "free"}},
    )


async def test_a_llama_route_gets_the_bounded_schema_and_the_answer_is_checked_against_the_caller_s(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """The request that reaches llama.cpp carries ``maxLength``, ``maxItems`` and a closed object;
    another OpenAI-compatible route gets the schema exactly as given."""
    ok = uid("ok:tokens=2")
    gateway = llama(gateway_for, mock_server, {"tiny": [f"llama/{ok}"], "plain": [f"mock/{ok}"]})

    value = await gateway.structured(SCHEMA, user("tag it"), model="tiny")
    await gateway.structured(SCHEMA, user("tag it"), model="plain")

    assert isinstance(value["answer"], str)
    to_llama, to_plain = mock_server.attempts(model=ok)
    sent = to_llama["body"]["response_format"]["json_schema"]["schema"]
    assert sent["properties"]["answer"]["maxLength"] == STRING_LENGTH
    assert sent["properties"]["tags"]["maxItems"] == ARRAY_ITEMS
    assert sent["additionalProperties"] is False
    assert to_plain["body"]["response_format"]["json_schema"]["schema"] == SCHEMA


async def test_a_schema_llama_cannot_compile_is_asked_for_in_json_mode_and_remembered(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """The first call pays one refused request (400, no attempt of its own) and gets its answer in JSON
    mode with the schema in a system message; the next call with that schema goes to JSON mode at once."""
    refusing = uid("no-grammar:tokens=2")
    gateway = llama(gateway_for, mock_server, {"tiny": [f"llama/{refusing}"]})

    first = await gateway.structured(SCHEMA, user("tag it"), model="tiny")
    seen = mock_server.attempts(model=refusing)
    assert [entry["body"]["response_format"]["type"] for entry in seen] == ["json_schema", "json_object"]
    assert seen[1]["body"]["messages"][0]["role"] == "system"
    assert '"required":["answer"]' in seen[1]["body"]["messages"][0]["content"]
    assert first == {"answer": "token0 token1"}

    await gateway.structured(SCHEMA, user("tag it again"), model="tiny")
    seen = mock_server.attempts(model=refusing)
    assert [entry["body"]["response_format"]["type"] for entry in seen[2:]] == ["json_object"]


async def test_a_stream_with_a_schema_llama_cannot_compile_falls_back_before_its_commit_point(
    gateway_for: GatewayFactory, mock_server: MockServer, uid
) -> None:
    """A stream refused for its schema is sent again in JSON mode, and the caller sees one answer."""
    refusing = uid("no-grammar:tokens=2")
    gateway = llama(gateway_for, mock_server, {"tiny": [f"llama/{refusing}"]})
    response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}

    handle = gateway.stream("tiny", user("tag it"), response_format=response_format)
    text = "".join([chunk.text async for chunk in handle])

    assert text == '{"answer": "token0 token1"}'
    assert handle.response is not None
    assert [a.outcome for a in handle.response.attempts] == ["ok"]
    seen = mock_server.attempts(model=refusing)
    assert [entry["body"]["response_format"]["type"] for entry in seen] == ["json_schema", "json_object"]
