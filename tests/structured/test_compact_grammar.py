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
    assert sent["x-guidance"] == {"whitespace_flexible": False, "coerce_one_of": True}
    assert list(sent["properties"]) == ["z", "a"]  # the fields in the order the caller gave


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string"}}},  # open to other keys
        {"type": "object", "not": {"required": ["a"]}},  # open once `not` is left to the check
        {
            "type": "object",
            "properties": {"a": {"$ref": "https://example.com/x.json"}},
            "additionalProperties": False,
        },
    ],
)
def test_a_schema_it_cannot_compile_gets_none(schema: dict[str, object]) -> None:
    assert compact_grammar(schema) is None


def test_what_llguidance_does_not_implement_is_left_to_the_check() -> None:
    """Conditions (``if``/``then``, ``not``, ``dependencies``, ``propertyNames``, ``uniqueItems``),
    formats and patterns llguidance does not know are left out of the grammar, as llama.cpp's
    converter leaves them; a ``oneOf`` is read as an ``anyOf``; a draft named by its ``https`` address still
    compiles. A property named like a keyword is a property."""
    schema = {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 3},
            "re": {"type": "string", "format": "regex", "maxLength": 8},
            "kind": {"oneOf": [{"const": "a"}, {"type": "string", "maxLength": 4}]},
            "not": {"type": "boolean"},
            "after": {"type": "string", "pattern": "(?<=x)y", "maxLength": 4},
            "map": {
                "type": "object",
                "patternProperties": {"^a(?!b)": {"type": "string"}},
                "additionalProperties": False,
            },
            "properties": {"type": "object", "additionalProperties": False},
        },
        "additionalProperties": False,
        "if": {"properties": {"kind": {"const": "a"}}},
        "then": {"required": ["tags"]},
        "propertyNames": {"maxLength": 10},
    }
    grammar = compact_grammar(schema)
    assert grammar is not None
    sent = json.loads(grammar.split("%json ", 1)[1])
    assert sent["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert not {"if", "then", "propertyNames"} & sent.keys()
    assert "uniqueItems" not in sent["properties"]["tags"] and "format" not in sent["properties"]["re"]
    assert sent["properties"]["not"] == {"type": "boolean"}
    assert "pattern" not in sent["properties"]["after"]  # a look-around: any string, as to llama.cpp
    assert sent["properties"]["map"]["patternProperties"] == {}


def test_an_object_closed_by_its_members_or_a_reference_counts_as_closed() -> None:
    """An object that lists properties but leaves closing to its ``anyOf`` members (each closed) or
    to the definition it references is sent; a string that happens to list ``properties`` is no object."""
    member = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    union = {"type": "object", "properties": {"a": {"type": "integer"}}, "anyOf": [member, member]}
    assert compact_grammar(union) is not None
    referenced = {
        "type": "object",
        "properties": {"x": {"type": "object", "$ref": "#/$defs/m"}},
        "additionalProperties": False,
        "$defs": {"m": member, "name": {"type": "string", "properties": {}, "maxLength": 8}},
    }
    assert compact_grammar(referenced) is not None
