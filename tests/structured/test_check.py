"""A schema that refers (``$ref``) to what it does not define is the caller's error, refused before
any call — in the library and in the proxy's enforcement — never an exception out of validation."""

from __future__ import annotations

import pytest

from keel.config import StructuredOutputConfig
from keel.errors import RequestError
from keel.structured.check import unresolved_refs
from keel.structured.enforce import enforced_output
from keel.structured.spec import OutputSpec
from keel.types import ChatRequest

SCHEMA = {
    "type": "object",
    "definitions": {"here": {"type": "string"}},
    "properties": {"a": {"$ref": "#/definitions/here"}, "b": {"$ref": "#/definitions/gone"}},
}


def test_references_that_point_nowhere_are_found() -> None:
    assert unresolved_refs(SCHEMA) == ["#/definitions/gone"]
    assert unresolved_refs({**SCHEMA, "properties": {"a": {"$ref": "#/definitions/here"}}}) == []
    assert unresolved_refs({"$defs": {"a~b": {}}, "items": {"$ref": "#/$defs/a~0b"}}) == []


def test_the_library_and_the_proxy_refuse_such_a_schema() -> None:
    with pytest.raises(RequestError, match="#/definitions/gone"):
        OutputSpec.of(SCHEMA)
    request = ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": SCHEMA}},
        }
    )
    with pytest.raises(RequestError, match="#/definitions/gone") as refused:
        enforced_output(request, "true", StructuredOutputConfig())
    assert refused.value.code == "invalid_response_format"
