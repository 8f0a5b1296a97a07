"""``merged``: an ``allOf`` of objects written as one object, with the same values, or left alone."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from keel.structured._all_of import merged
from keel.structured.bounded_schema import OPTIONAL_PROPERTIES, bounded

BASE = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "tag": {"type": "string"}},
    "required": ["id"],
}
COMPOSED: dict[str, Any] = {
    "$defs": {"base": BASE},
    "type": "object",
    "properties": {"kind": {"enum": ["a", "b"]}},
    "allOf": [
        {"$ref": "#/$defs/base"},
        {
            "properties": {"name": {"type": "string"}, "tag": {"maxLength": 3}},
            "required": ["name"],
            "anyOf": [{"required": ["kind"]}, {"required": ["tag"]}],
        },
    ],
}


def test_parts_become_one_object_and_what_else_they_say_stays_beside() -> None:
    """Properties side by side (a name two parts describe takes both schemas), required names
    together, a part's other keywords in an ``allOf`` of what is left."""
    out = merged(COMPOSED)
    assert list(out["properties"]) == ["kind", "id", "tag", "name"]
    assert out["properties"]["tag"] == {"allOf": [{"type": "string"}, {"maxLength": 3}]}
    assert out["required"] == ["id", "name"]
    assert out["allOf"] == [{"anyOf": [{"required": ["kind"]}, {"required": ["tag"]}]}]
    assert out["$defs"] == COMPOSED["$defs"]  # the definition is still there for other references


def test_a_name_one_part_leaves_blank_takes_the_other_part_s_schema() -> None:
    """``{}`` or only a description in one part adds nothing: the other part's schema is the name's."""
    schema = {
        "allOf": [
            {"properties": {"a": {"description": "set below"}}},
            {"properties": {"a": {"type": "integer"}}},
        ]
    }
    assert merged(schema)["properties"] == {"a": {"type": "integer"}}


@pytest.mark.parametrize(
    "instance",
    [
        {"id": 1, "name": "n", "kind": "a"},
        {"id": 1, "name": "n", "tag": "abc", "extra": True},
        {"id": 1, "name": "n"},  # neither kind nor tag
        {"id": 1, "name": "n", "tag": "abcd"},  # too long for one part
        {"name": "n", "kind": "a"},  # no id
        {"id": "1", "name": "n", "kind": "b"},
    ],
)
def test_the_merged_schema_takes_exactly_what_the_composed_one_takes(instance: dict[str, Any]) -> None:
    composed = jsonschema.Draft202012Validator(COMPOSED).is_valid(instance)
    assert jsonschema.Draft202012Validator(merged(COMPOSED)).is_valid(instance) == composed


@pytest.mark.parametrize(
    "schema",
    [
        # a part closed to its own properties would shut out the others': merging would widen it
        {"allOf": [{"properties": {"a": {}}, "additionalProperties": False}, {"properties": {"b": {}}}]},
        {"properties": {"a": {}}, "additionalProperties": False, "allOf": [{"properties": {"b": {}}}]},
        {"allOf": [{"type": "string"}, {"properties": {"b": {}}}]},  # no object
        {"allOf": [{"minLength": 1}, {"maxLength": 4}]},  # about strings: nothing to merge
        {"allOf": [{"$ref": "https://example.com/base.json"}, {"properties": {"b": {}}}]},
        {"$defs": {"loop": {"allOf": [{"$ref": "#/$defs/loop"}]}}, "allOf": [{"$ref": "#/$defs/loop"}]},
        # another reference points into the allOf: it would point nowhere
        {"allOf": [{"properties": {"a": {}}}], "properties": {"b": {"$ref": "#/allOf/0/properties/a"}}},
    ],
)
def test_an_allof_that_cannot_be_merged_safely_is_left_alone(schema: dict[str, Any]) -> None:
    out = merged(schema)
    assert "allOf" in out
    assert out["allOf"] == schema["allOf"]


def test_the_bounded_copy_closes_and_trims_a_merged_object() -> None:
    """Once merged, the object is closed and keeps its required names, those its combinators name,
    and the first few others — where before the parts stayed open and untrimmed."""
    many = {"type": "object", "properties": {f"o{i}": {"type": "integer"} for i in range(8)}}
    schema = {
        "$defs": {"base": BASE, "many": many},
        "allOf": [{"$ref": "#/$defs/base"}, {"$ref": "#/$defs/many"}],
    }
    out = bounded(schema)
    assert out["additionalProperties"] is False
    assert out["required"] == ["id"]
    assert len(out["properties"]) == 1 + OPTIONAL_PROPERTIES
    assert "allOf" not in out
    jsonschema.validate({"id": 1, "tag": "t", "o0": 2}, out)
    jsonschema.validate({"id": 1, "tag": "t", "o0": 2}, schema)


def test_the_caller_s_schema_is_not_changed() -> None:
    before = copy.deepcopy(COMPOSED)
    merged(COMPOSED)
    bounded(COMPOSED)
    assert before == COMPOSED


KINDS: dict[str, Any] = {
    "type": "object",
    "properties": {"type": {"enum": ["markdown", "input"]}},
    "required": ["type"],
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "markdown"}}},
            "then": {"properties": {"value": {"type": "string"}}, "required": ["value"]},
        },
        {
            "if": {"properties": {"type": {"const": "input"}}},
            "then": {"properties": {"label": {"type": "string"}}, "required": ["label"]},
        },
    ],
}


def test_conditions_on_one_property_s_value_become_cases_beside_them() -> None:
    """``if type is markdown then value …`` for each kind: an ``anyOf`` of the cases (the kind's
    value and its ``then``) is added and the conditions are kept — a grammar can carry the cases."""
    out = merged(KINDS)
    assert out["allOf"] == KINDS["allOf"]
    first, second = out["anyOf"]
    assert first["properties"] == {"value": {"type": "string"}, "type": {"const": "markdown"}}
    assert first["required"] == ["value", "type"]
    assert second["properties"]["type"] == {"const": "input"}
    for instance, ok in (
        ({"type": "markdown", "value": "v"}, True),
        ({"type": "input", "label": "l"}, True),
        ({"type": "input", "value": "v"}, False),
    ):
        assert jsonschema.Draft202012Validator(out).is_valid(instance) == ok
        assert jsonschema.Draft202012Validator(KINDS).is_valid(instance) == ok
    out = bounded(KINDS)  # the object lists every case's names, closed; each case keeps its own
    assert set(out["properties"]) == {"type", "value", "label"}
    assert out["additionalProperties"] is False


@pytest.mark.parametrize(
    "conditions",
    [
        [KINDS["allOf"][0]],  # one condition: a case would force its value
        [KINDS["allOf"][0], KINDS["allOf"][0]],  # the same value twice
        [KINDS["allOf"][0], {**KINDS["allOf"][1], "else": {"required": ["x"]}}],
        [KINDS["allOf"][0], {"if": {"properties": {"kind": {"const": "x"}}}, "then": {}}],  # two properties
    ],
)
def test_conditions_that_are_not_cases_of_one_value_are_left_alone(conditions: list[Any]) -> None:
    assert "anyOf" not in merged({**KINDS, "allOf": conditions})


def test_names_a_condition_requires_are_required_always() -> None:
    """ "``schedule`` unless ``group``": the copy requires ``schedule`` (meets the condition either
    way, so narrower); not where a condition has an ``else`` or its ``then`` says more than names."""
    schema = {
        "type": "object",
        "properties": {"schedule": {"type": "string"}, "group": {"type": "string"}},
        "required": ["ecosystem"],
        "allOf": [
            {"if": {"not": {"required": ["group"]}}, "then": {"required": ["schedule"], "$comment": "c"}}
        ],
    }
    assert merged(schema)["required"] == ["ecosystem", "schedule"]
    with_else = {**schema, "allOf": [{**schema["allOf"][0], "else": {"required": ["group"]}}]}
    assert merged(with_else)["required"] == ["ecosystem"]
    saying_more = {
        **schema,
        "allOf": [{"if": {"required": ["group"]}, "then": {"not": {"required": ["schedule"]}}}],
    }
    assert merged(saying_more)["required"] == ["ecosystem"]
