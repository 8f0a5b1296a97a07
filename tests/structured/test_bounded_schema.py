"""``bounded``: a grammar's copy of a schema, with bounds where the schema leaves none, never wider."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from keel.structured.bounded_schema import ARRAY_ITEMS, LARGEST, OPTIONAL_PROPERTIES, STRING_LENGTH, bounded

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
    assert bounded({"type": "string", "maxLength": 500})["maxLength"] == STRING_LENGTH  # lowered
    assert not any("maxLength" in out[name] for name in ("date", "code", "kind"))
    assert out["maybe"]["maxLength"] == STRING_LENGTH
    assert out["link"]["maxLength"] == STRING_LENGTH  # a format llama.cpp does not spell out


def test_arrays_get_a_most_items_at_least_their_least() -> None:
    """An array gets ``maxItems: 3`` (or lower, as it says), raised to its ``minItems``, and short scalars for
    items of any kind (none nests without end); a tuple is left as it is."""
    out = bounded(NESTED)
    assert out["properties"]["tags"]["maxItems"] == ARRAY_ITEMS
    assert out["properties"]["tags"]["items"]["maxLength"] == STRING_LENGTH
    assert out["$defs"]["person"]["properties"]["aliases"]["maxItems"] == 6
    pair = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    assert "maxItems" not in bounded(pair)
    shaped = {"type": "array", "maxItems": 10, "items": {"type": "integer", "minimum": 0, "maximum": 9}}
    assert bounded(shaped) == {**shaped, "maxItems": ARRAY_ITEMS}  # a long maxItems is lowered too
    free = bounded({"type": "array", "items": {}})["items"]  # items of any kind: short scalars
    assert free["type"] == ["string", "integer", "boolean", "null"] and free["maxLength"] == STRING_LENGTH


def test_objects_are_closed_only_where_no_valid_value_is_lost() -> None:
    """``additionalProperties: false`` is added to an object that lists its properties and takes
    others (unsaid, ``true``, ``{}`` or a schema), not to a map that lists none, one that is part
    of an ``allOf`` it cannot be merged into (directly or through a definition another schema
    extends), or that needs more properties than it can list."""
    assert bounded(NESTED)["additionalProperties"] is False
    assert bounded(NESTED)["$defs"]["person"]["additionalProperties"] is False
    assert bounded({"properties": {"a": {}}, "additionalProperties": True})["additionalProperties"] is False
    patterned = {"properties": {"a": {}}, "patternProperties": {"^x-": {"type": "string"}}}
    out = bounded(patterned)
    assert out["additionalProperties"] is False
    assert "patternProperties" not in out  # closed: keys only the pattern took are left out
    extended = {
        "$defs": {"base": {"properties": {"id": {"type": "integer"}}, "additionalProperties": False}},
        "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"name": {"type": "string"}}}],
    }
    out = bounded(extended)  # the base shuts out `name`: no merge, nothing closed
    assert "additionalProperties" not in out["allOf"][1]
    assert out["allOf"][1]["properties"]["name"]["maxLength"] == STRING_LENGTH
    assert bounded({"type": "object"}) == {"type": "object", "additionalProperties": False}
    assert bounded({"type": ["object", "null"]})["additionalProperties"] is False
    assert bounded({"type": "object", "minProperties": 1}) == {"type": "object", "minProperties": 1}
    typed_values = {"properties": {"a": {}}, "additionalProperties": {"type": "string"}}
    assert bounded(typed_values)["additionalProperties"] is False  # keys beside `a` are left out
    assert bounded({"additionalProperties": {"type": "string"}})["additionalProperties"]["maxLength"] == 32


def test_a_name_a_combinator_needs_is_listed_and_the_object_closed() -> None:
    """A name required (or described) by the object or its ``anyOf``/``oneOf``/``then`` but not
    listed is added to its properties with the schema found for it, so the object can be closed
    without shutting it out; where the object decides about other names, nothing is added."""
    schema = {
        "type": "object",
        "properties": {"kind": {"enum": ["cron", "daily"]}},
        "required": ["kind", "id"],
        "allOf": [{"if": {"properties": {"kind": {"const": "cron"}}}, "then": {"required": ["cronjob"]}}],
        "anyOf": [{"properties": {"cronjob": {"type": "string"}}}, {"required": ["other"]}],
    }
    out = bounded(schema)
    assert out["additionalProperties"] is False
    assert set(out["properties"]) == {"kind", "id", "cronjob", "other"}
    assert out["properties"]["cronjob"] == {"type": "string", "maxLength": STRING_LENGTH}
    assert out["properties"]["id"] == {}
    closed = {**schema, "additionalProperties": False}
    assert set(bounded(closed)["properties"]) == {"kind"}  # `id` cannot be present: not added
    for instance in ({"kind": "daily", "id": 1, "other": 2}, {"kind": "cron", "id": 1, "cronjob": "x"}):
        jsonschema.validate(instance, out)
        jsonschema.validate(instance, schema)


def test_a_property_left_blank_for_a_condition_takes_the_schemas_the_condition_gives() -> None:
    """GitHub's action schema lists ``outputs: {}`` and sets its shape in ``then``/``else``: the copy
    gives it either shape (``anyOf``), and keeps the condition, so it still narrows."""
    schema = {
        "type": "object",
        "properties": {"runs": {"type": "string"}, "outputs": {"$comment": "set below"}},
        "additionalProperties": False,
        "if": {"properties": {"runs": {"const": "composite"}}},
        "then": {"properties": {"outputs": {"type": "string", "enum": ["a"]}}},
        "else": {"properties": {"outputs": {"type": "boolean"}}},
    }
    out = bounded(schema)
    assert out["properties"]["outputs"] == {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "boolean"}]}
    assert out["if"] == schema["if"] and out["then"] == schema["then"]


def test_maps_take_a_few_keys_and_unique_arrays_one_item() -> None:
    """An object whose keys are free but whose values are described gets ``maxProperties``; an array
    of unique items (needing at most one) gets one item, which is always unique."""
    names = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert bounded(names)["maxProperties"] == ARRAY_ITEMS
    assert bounded({**names, "minProperties": 5})["maxProperties"] == 5
    patterned = bounded({"type": "object", "patternProperties": {"^a": {"type": "integer"}}})
    assert (patterned["additionalProperties"], patterned["maxProperties"]) == (False, ARRAY_ITEMS)
    assert bounded({"type": "array", "uniqueItems": True})["maxItems"] == 1
    assert bounded({"type": "array", "uniqueItems": True, "minItems": 2})["maxItems"] == ARRAY_ITEMS


def test_a_property_a_reference_points_into_is_never_trimmed() -> None:
    """Trimming optional properties keeps one that a ``$ref`` elsewhere points into, so the
    reference still resolves (llama.cpp and llguidance refuse a pointer to nothing)."""
    schema = {
        "type": "object",
        "properties": {f"p{i}": {"type": "integer"} for i in range(6)},
        "$defs": {"alias": {"$ref": "#/properties/p5"}},
    }
    assert list(bounded(schema)["properties"]) == ["p0", "p1", "p2", "p5"]


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
    already_closed = {**schema, "additionalProperties": False}
    assert list(bounded(already_closed)["properties"]) == [*names[:OPTIONAL_PROPERTIES], "p6"]
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


def test_a_number_becomes_the_whole_numbers_in_its_range() -> None:
    """A number is asked for as an integer inside its bounds (exclusive bounds respected; nine
    digits where it has none); with a ``multipleOf``, a draft-4 flag or no whole number in range,
    it is left alone."""
    assert bounded({"type": "number", "minimum": 0, "maximum": 10}) == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
    }
    out = bounded({"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 3})
    assert (out["type"], out["minimum"], out["maximum"]) == ("integer", 1, 2)
    assert bounded({"type": "number", "minimum": 0}) == {"type": "integer", "minimum": 0, "maximum": LARGEST}
    for schema in (
        {"type": "number", "minimum": 0.2, "maximum": 0.8},
        {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.5},
        {"type": "number", "minimum": 0, "maximum": 5, "exclusiveMinimum": True},  # draft 4
    ):
        assert bounded(schema) == schema


def test_an_integer_gets_the_bounds_it_leaves_out() -> None:
    """llguidance lets a small model write digits without end (``100000…`` until the limit): an
    integer without a bound gets ``±LARGEST``; one it has is kept."""
    assert bounded({"type": "integer"}) == {"type": "integer", "minimum": -LARGEST, "maximum": LARGEST}
    assert bounded({"type": ["integer", "null"], "minimum": 1})["maximum"] == LARGEST
    assert bounded({"type": "integer", "minimum": 10**12}) == {"type": "integer", "minimum": 10**12}
    jsonschema.validate(LARGEST, bounded({"type": "integer", "exclusiveMaximum": 10**10}))


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


def test_members_of_an_object_s_parts_are_never_closed_on_their_own() -> None:
    """Dependabot's update: a closed object whose ``allOf`` holds a ``oneOf`` of ``directory`` or
    ``directories``. Each branch is part of the object: closed to its one name it would shut out
    every other (llguidance: "required property is unsatisfiable")."""
    schema = {
        "type": "object",
        "properties": {
            "ecosystem": {"type": "string"},
            "directory": {"type": "string"},
            "dirs": {"type": "array"},
        },
        "required": ["ecosystem"],
        "additionalProperties": False,
        "allOf": [
            {"oneOf": [{"properties": {"directory": {}}, "required": ["directory"]}, {"required": ["dirs"]}]}
        ],
    }
    branches = bounded(schema)["allOf"][0]["oneOf"]
    assert not any("additionalProperties" in branch for branch in branches)
    jsonschema.validate({"ecosystem": "pip", "directory": "/"}, bounded(schema))
