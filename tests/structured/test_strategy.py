"""``SchemaGrammars``: what each route is sent for a JSON-schema call, and the schemas a grammar
route could not compile, remembered so later calls go straight to JSON mode."""

from __future__ import annotations

from typing import Any

from keel.errors import InvalidRequestError, ServerError
from keel.route import Capabilities, Route
from keel.structured.compact_grammar import fallback_grammar
from keel.structured.strategy import SchemaGrammars, with_json_mode
from keel.types import ChatRequest

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
REFUSED = (
    "Unable to generate parser for this template. Automatic parser generation failed: JSON schema "
    "error at #/properties/a: unsupported $ref #name, only references into the same document are supported"
)


def route(name: str = "local/smollm2", **capabilities: Any) -> Route:
    return Route(name, provider=None, upstream_model="m", capabilities=Capabilities(**capabilities))  # type: ignore[arg-type]


def request(schema: dict[str, Any] = SCHEMA) -> ChatRequest:
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "a name"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
    }
    return ChatRequest(**body, native=body, native_format="openai")


def test_a_grammar_route_is_sent_a_bounded_copy_and_no_client_body() -> None:
    """The schema sent to a grammar route is bounded; the request's own schema is unchanged, and the
    client's native body is dropped so the upstream sees the bounded one."""
    sent = SchemaGrammars().prepare(route(schema_grammar=True), original := request())
    spec = sent.response_format["json_schema"]  # type: ignore[index]
    assert spec["name"] == "person"
    assert spec["schema"]["properties"]["name"]["maxLength"] > 0
    assert spec["schema"]["additionalProperties"] is False
    assert sent.native is None and sent.native_format is None
    assert original.response_format["json_schema"]["schema"] == SCHEMA  # type: ignore[index]


def test_other_routes_get_the_schema_as_sent_or_json_mode() -> None:
    """A route with JSON schemas gets the request itself; one without, JSON mode and the schema in a
    system message; a request without a schema is never changed."""
    grammars = SchemaGrammars()
    original = request()
    assert grammars.prepare(route(), original) is original
    json_mode = grammars.prepare(route(supports_json_schema=False), original)
    assert json_mode.response_format == {"type": "json_object"}
    assert json_mode.messages[0].role == "system" and '"required":["name"]' in json_mode.messages[0].text()
    plain = ChatRequest(model="tiny", messages=[{"role": "user", "content": "hi"}])
    assert grammars.prepare(route(schema_grammar=True), plain) is plain


def test_a_schema_the_route_could_not_compile_goes_in_json_mode_from_then_on() -> None:
    """llama.cpp's 400 for a schema it cannot turn into a grammar is recognised and remembered for
    that route and schema; other schemas and other routes still get grammars."""
    grammars, local = SchemaGrammars(), route(schema_grammar=True)
    error = InvalidRequestError(REFUSED, route=local.name, upstream_status=400)
    assert grammars.refused(local, request(), error)
    assert grammars.prepare(local, request()).response_format == {"type": "json_object"}
    other = {"type": "object", "properties": {"b": {"type": "integer"}}}
    assert grammars.prepare(local, request(other)).response_format["type"] == "json_schema"  # type: ignore[index]
    elsewhere = route("llama/other", schema_grammar=True)
    assert grammars.prepare(elsewhere, request()).response_format["type"] == "json_schema"  # type: ignore[index]


def test_the_in_process_model_gets_a_weaker_grammar_instead_of_json_mode() -> None:
    """Where the route takes an llguidance grammar (the in-process model), a refused schema is stated
    in a system message and constrained by a weaker grammar — its own with objects left open, else
    any short flat object — not JSON mode, in which the 135M model answers with the schema itself."""
    grammars, local = SchemaGrammars(), route(schema_grammar=True, compact_grammar=True)
    grammars.refused(local, request(), InvalidRequestError(REFUSED, route=local.name, upstream_status=400))
    sent = grammars.prepare(local, request())
    assert sent.response_format is None and sent.grammar is not None
    assert sent.messages[0].role == "system" and '"required":["name"]' in sent.messages[0].text()
    assert '"name"' in sent.grammar  # the schema's own grammar: it compiles, though left open
    remote = fallback_grammar({"$ref": "https://example.com/remote.json"})  # no grammar of its own
    assert remote is not None and '"maxProperties":3' in remote


def test_only_a_grammar_refusal_by_a_grammar_route_is_taken_for_one() -> None:
    """Another 400, a server error, or the same words from a route without grammars are not."""
    grammars, local = SchemaGrammars(), route(schema_grammar=True)
    assert not grammars.refused(local, request(), InvalidRequestError("'n' must be 1", route="x"))
    assert not grammars.refused(local, request(), ServerError(REFUSED, route="x"))
    assert not grammars.refused(route(), request(), InvalidRequestError(REFUSED, route="x"))
    assert grammars.prepare(local, request()).response_format["type"] == "json_schema"  # type: ignore[index]


def test_the_memory_of_refused_schemas_is_bounded() -> None:
    """Only the most recent ``size`` refused schemas are remembered."""
    grammars, local = SchemaGrammars(size=2), route(schema_grammar=True)
    schemas = [{"type": "object", "properties": {f"p{i}": {"type": "string"}}} for i in range(3)]
    for schema in schemas:
        grammars.refused(local, request(schema), InvalidRequestError(REFUSED, route=local.name))
    kinds = [grammars.prepare(local, request(schema)).response_format["type"] for schema in schemas]  # type: ignore[index]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_json_mode_on_a_small_context_states_the_schema_tersely() -> None:
    """The JSON-mode fallback of a grammar route leaves out annotations (a property named
    ``description`` stays) and cuts a schema still too long to the depth that fits."""
    deep: dict[str, Any] = {"type": "string", "description": "the leaf " * 50}
    for level in range(10):
        deep = {"type": "object", "description": f"level {level}", "properties": {f"p{level}": deep}}
    deep["properties"]["description"] = {"type": "string", "examples": ["x"]}
    sent = with_json_mode(request(deep), fit=300)
    stated = sent.messages[0].text().split("\n", 1)[1]
    assert len(stated) <= 300
    assert '"description":{"type":"string"}' in stated and "level" not in stated and "examples" not in stated
    assert with_json_mode(request(deep)).messages[0].text().count("level") == 10


def test_a_reask_is_sent_tighter_bounds() -> None:
    """A re-ask to a grammar route gets shorter strings, one item a list and no optional property."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "tags": {"type": "array"}, "note": {"type": "string"}},
        "required": ["name", "tags"],
    }
    sent = SchemaGrammars().prepare(route(schema_grammar=True), request(schema), tight=True)
    bounded_schema = sent.response_format["json_schema"]["schema"]  # type: ignore[index]
    assert list(bounded_schema["properties"]) == ["name", "tags"]
    assert bounded_schema["properties"]["name"]["maxLength"] == 16
    assert bounded_schema["properties"]["tags"]["maxItems"] == 1
