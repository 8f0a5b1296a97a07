"""The local tier's grammar without free whitespace: made for a schema llguidance compiles, in the
schema's own field order; none for one it cannot or that leaves an object open (then the schema
path is taken, whose failures llama.cpp reports instead of answering unconstrained)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from keel.structured.compact_grammar import compact_grammar

from .._requires import missing

if importlib.util.find_spec("llguidance") is None:
    missing("llguidance (the local-model extra)")


def test_a_schema_llguidance_compiles_becomes_a_grammar_without_whitespace() -> None:
    schema = {
        "type": "object",
        "properties": {"z": {"type": "string"}, "a": {"type": "integer"}},
        "additionalProperties": False,
    }
    grammar = compact_grammar(schema)
    assert grammar is not None and grammar.startswith("%llguidance {}\nstart: %json ")
    sent = json.loads(grammar.split("%json ", 1)[1])
    assert sent["x-guidance"] == {"whitespace_flexible": False}
    assert list(sent["properties"]) == ["z", "a"]  # the fields in the order the caller gave


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}},  # open to other keys
        {"type": "object", "not": {"required": ["a"]}},
        {
            "type": "object",
            "properties": {"a": {"$ref": "https://example.com/x.json"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"a": {"type": "string", "pattern": "(?<=x)y"}},
            "additionalProperties": False,
        },
    ],
)
def test_a_schema_it_cannot_compile_gets_none(schema: dict[str, object]) -> None:
    assert compact_grammar(schema) is None
