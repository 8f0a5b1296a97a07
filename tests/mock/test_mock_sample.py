"""Example values for JSON Schemas, used for tool arguments and structured output."""

from __future__ import annotations

from keel.mock.sample import sample


def test_object_properties_are_all_filled_by_type() -> None:
    """Each property gets a value of its type; strings get the given text."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 18},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]},
            "maybe": {"type": ["string", "null"]},
        },
    }
    assert sample(schema, "hi") == {
        "name": "hi", "age": 18, "score": 0.0, "ok": True, "tags": ["hi"], "kind": "a", "maybe": "hi",
    }  # fmt: skip


def test_refs_into_defs_are_followed_as_pydantic_emits_them() -> None:
    """``$ref: #/$defs/…`` and ``anyOf`` with null resolve to the referenced shape."""
    schema = {
        "$defs": {"Item": {"type": "object", "properties": {"sku": {"type": "string", "format": "uuid"}}}},
        "type": "object",
        "properties": {"item": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]}},
    }
    assert sample(schema) == {"item": {"sku": "00000000-0000-4000-8000-000000000000"}}


def test_recursive_schemas_terminate() -> None:
    """A self-referencing schema stops at a fixed depth instead of recursing forever."""
    schema = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    value = sample(schema)
    depth = 0
    while isinstance(value, dict):
        value, depth = value["child"], depth + 1
    assert 1 < depth < 20


def test_string_length_bounds_are_respected() -> None:
    """``minLength`` pads and ``maxLength`` truncates the sample string."""
    assert sample({"type": "string", "minLength": 5}, "ab") == "abxxx"
    assert sample({"type": "string", "maxLength": 3}, "abcdef") == "abc"
