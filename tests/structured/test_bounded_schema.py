"""``bounded``: a grammar's copy of a schema, with bounds where the schema leaves none, never wider."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from keel.structured.bounded_schema import ARRAY_ITEMS, OPTIONAL_PROPERTIES, STRING_LENGTH, bounded

NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"$ref": "#/$defs/person"},
        "contact": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "score": {"type": "number", "minimum": 0, "maximum": 10},
    },
    "required": ["title", "owner"],
    "$defs": {
        "person": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "aliases": {"type": "array", "minItems": 6}},
        }
    },
}


def test_free_strings_get_a_length_and_shaped_ones_keep_theirs() -> None:
    """A free string gets ``maxLength``; one with a length, a format, a pattern or an enum is left."""
    out = bounded(
        {
            "type": "object",
            "properties": {
                "free": {"type": "string"},
                "long": {"type": "string", "minLength": 100},
                "short": {"type": "string", "maxLength": 5},
                "date": {"type": "string", "format": "date"},
                "link": {"type": "string", "format": "uri"},
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "maybe": {"type": ["string", "null"]},
            },
            "required": ["free", "long", "short", "date", "link", "code", "kind", "maybe"],
        }
    )["properties"]
    assert out["free"]["maxLength"] == STRING_LENGTH
    assert out["long"]["maxLength"] == 100  # never below the schema's own minimum
    assert out["short"] == {"type": "string", "maxLength": 5}
    assert not any("maxLength" in out[name] for name in ("date", "code", "kind"))
    assert out["maybe"]["maxLength"] == STRING_LENGTH
    assert out["link"]["maxLength"] == STRING_LENGTH  # a format llama.cpp does not spell out


def test_arrays_get_a_most_items_at_least_their_least() -> None:
    """An array without ``maxItems`` gets one, raised to its ``minItems``; a tuple is left as it is."""
    out = bounded(NESTED)
    assert out["properties"]["tags"]["maxItems"] == ARRAY_ITEMS
    assert out["properties"]["tags"]["items"]["maxLength"] == STRING_LENGTH
    assert out["$defs"]["person"]["properties"]["aliases"]["maxItems"] == 6
    pair = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    assert "maxItems" not in bounded(pair)
    assert bounded({"type": "array", "maxItems": 10}) == {"type": "array", "maxItems": 10}


def test_objects_are_closed_only_where_no_valid_value_is_lost() -> None:
    """``additionalProperties: false`` is added to an object that lists its properties and says
    nothing of others, not to one that requires an unlisted name, has pattern properties, or is
    part of an ``allOf`` (directly or through a definition another schema extends)."""
    assert bounded(NESTED)["additionalProperties"] is False
    assert bounded(NESTED)["$defs"]["person"]["additionalProperties"] is False
    needs_more = {"properties": {"a": {}}, "required": ["a", "b"]}
    assert "additionalProperties" not in bounded(needs_more)
    patterned = {"properties": {"a": {}}, "patternProperties": {"^x-": {"type": "string"}}}
    out = bounded(patterned)
    assert "additionalProperties" not in out
    assert out["patternProperties"]["^x-"]["maxLength"] == STRING_LENGTH
    extended = {
        "$defs": {"base": {"properties": {"id": {"type": "integer"}}}},
        "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"name": {"type": "string"}}}],
    }
    out = bounded(extended)
    assert "additionalProperties" not in out["$defs"]["base"]
    assert "additionalProperties" not in out["allOf"][1]
    assert out["allOf"][1]["properties"]["name"]["maxLength"] == STRING_LENGTH
    assert bounded({"type": "object"}) == {"type": "object", "additionalProperties": False}
    assert bounded({"type": "object", "minProperties": 1}) == {"type": "object", "minProperties": 1}
    open_values = {"type": "object", "additionalProperties": {"type": "string"}}
    assert bounded(open_values)["additionalProperties"] == {"type": "string", "maxLength": STRING_LENGTH}


def test_a_closed_object_keeps_its_required_properties_and_the_first_few_others() -> None:
    """Beside every required property, the first ``OPTIONAL_PROPERTIES`` others are kept (more when
    ``minProperties`` asks); with ``dependentRequired`` or ``maxProperties`` all are kept."""
    names = [f"p{i}" for i in range(8)]
    properties = {name: {"type": "integer"} for name in names}
    schema = {"type": "object", "properties": properties, "required": ["p6"]}
    assert list(bounded(schema)["properties"]) == [*names[:OPTIONAL_PROPERTIES], "p6"]
    assert len(bounded({**schema, "minProperties": 6})["properties"]) == 6
    tied = {**schema, "dependentRequired": {"p0": ["p7"]}}
    assert list(bounded(tied)["properties"]) == names
    assert list(bounded(schema, optional_properties=0)["properties"]) == ["p6"]


def test_an_anchored_pattern_gets_bounded_repeats_and_ascii_classes() -> None:
    """``+``, ``*`` and ``{m,}`` in an anchored pattern repeat at most ``STRING_LENGTH`` times and
    ``\\d``/``\\w`` become ASCII classes; a pattern this cannot rewrite safely is left as it is."""
    n = STRING_LENGTH
    name = bounded({"type": "string", "pattern": r"^[a-z][\w-]+\.\d*$"})["pattern"]
    assert name == rf"^[a-z][a-zA-Z0-9_-]{{1,{n}}}\.[0-9]{{0,{n}}}$"
    assert bounded({"type": "string", "pattern": "^x{2,}$"})["pattern"] == f"^x{{2,{2 + n}}}$"
    for pattern in ("abc+", "^a+?$", r"^\S+$", r"^a\+b$", "^[ab+$"):
        assert bounded({"type": "string", "pattern": pattern})["pattern"] == pattern
    jsonschema.validate("ab-c_1.42", {"type": "string", "pattern": name})


def test_a_number_between_two_bounds_becomes_the_whole_numbers_between_them() -> None:
    """A number with both bounds is asked for as an integer inside them (exclusive bounds respected);
    with one bound, a ``multipleOf`` or no whole number in range, it is left alone."""
    assert bounded({"type": "number", "minimum": 0, "maximum": 10}) == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
    }
    out = bounded({"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 3})
    assert (out["type"], out["minimum"], out["maximum"]) == ("integer", 1, 2)
    for schema in (
        {"type": "number", "minimum": 0},
        {"type": "number", "minimum": 0.2, "maximum": 0.8},
        {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.5},
        {"type": "number", "minimum": 0, "maximum": 5, "exclusiveMinimum": True},  # draft 4
    ):
        assert bounded(schema) == schema


def test_combinators_and_definitions_are_bounded_and_references_kept() -> None:
    """Inside ``anyOf``, ``oneOf``, ``allOf``, ``items``, ``$defs`` and ``definitions`` the same bounds
    apply; a ``$ref`` stays a reference; ``not`` and ``if`` are left alone (bounding them would widen)."""
    schema = {
        "type": "object",
        "properties": {
            "a": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/definitions/x"}}]},
            "b": {"not": {"type": "string"}},
        },
        "if": {"properties": {"a": {"type": "string"}}},
        "definitions": {"x": {"type": "string"}},
    }
    out = bounded(schema)
    first, second = out["properties"]["a"]["oneOf"]
    assert first["maxLength"] == STRING_LENGTH and second["maxItems"] == ARRAY_ITEMS
    assert second["items"] == {"$ref": "#/definitions/x"}
    assert out["definitions"]["x"]["maxLength"] == STRING_LENGTH
    assert out["properties"]["b"] == {"not": {"type": "string"}}
    assert out["if"] == schema["if"]


def test_the_caller_s_schema_is_never_changed_and_unknown_things_pass_through() -> None:
    """The input is not mutated; booleans, unknown keywords and odd values come back as they were."""
    before = copy.deepcopy(NESTED)
    bounded(NESTED)
    assert before == NESTED
    assert bounded(True) is True
    assert bounded({"x-vendor": {"type": "string"}, "type": 7}) == {"x-vendor": {"type": "string"}, "type": 7}


@pytest.mark.parametrize(
    "instance",
    [
        {"title": "t", "owner": {"name": "n"}},
        {"title": "x" * 10, "tags": ["a", "b"], "owner": {"name": "n", "aliases": [1] * 6}, "score": 3},
    ],
)
def test_what_the_bounded_copy_accepts_the_original_accepts(instance: dict[str, Any]) -> None:
    """Values valid under the copy are valid under the original (the copy only narrows)."""
    jsonschema.validate(instance, bounded(NESTED))
    jsonschema.validate(instance, NESTED)
