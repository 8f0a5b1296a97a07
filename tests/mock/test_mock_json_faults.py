"""The structured-output faults as text: what each one makes of a valid JSON answer and its schema."""

from __future__ import annotations

import json
from typing import Any

import json_repair
import pytest

from keel.mock.json_faults import ANSWER_SCHEMA, STRUCTURED, faulty_json
from keel.mock.sample import sample

# A schema whose answer every fault changes; with ``tokens=2`` the mock fills strings with "token0 token1".
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "count": {"type": "integer"},
        "links": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["count", "title"],
}
VALUE = sample(SCHEMA, "token0 token1")
VALID = '{"title": "token0 token1", "count": 0, "links": ["token0 token1"]}'
EXPECTED = {
    "json-fenced": f"```json\n{VALID}\n```",
    "json-prose": f"Sure! Here is the JSON you asked for:\n{VALID}\nLet me know if you need anything else.",
    "json-repairable": "{'title': 'token0 token1', 'count': 0, 'links': ['token0 token1'],}",
    "json-invalid": "I am unable to answer in JSON right now.",
    "json-wrong-type": '{"title": 42, "count": 0, "links": ["token0 token1"]}',
    "json-missing-field": '{"title": "token0 token1", "links": ["token0 token1"]}',
    "json-truncated": '{"title": "token0',
    "json-bad-urls": (
        '{"title": "token0 token1", "count": 0, "links": '
        '["https://example.com/0", "htp:/broken-1", "https://example.com/2", "htp:/broken-3"]}'
    ),
}
# The same faults on the mock's own JSON answer (plain requests and ``json_object``).
EXPECTED_ANSWER = {
    "json-fenced": '```json\n{"answer": "token0 token1"}\n```',
    "json-prose": (
        'Sure! Here is the JSON you asked for:\n{"answer": "token0 token1"}\n'
        "Let me know if you need anything else."
    ),
    "json-repairable": "{'answer': 'token0 token1',}",
    "json-invalid": "I am unable to answer in JSON right now.",
    "json-wrong-type": '{"answer": 42}',
    "json-missing-field": "{}",
    "json-truncated": '{"answer": "token0',
    "json-bad-urls": '{"answer": "token0 token1"}',
}


def unwrap(text: str) -> str:
    """What a client's stripping leaves: the text inside a Markdown fence, or from first brace to last."""
    if text.startswith("```"):
        return text.split("\n", 1)[1].rsplit("\n```", 1)[0]
    return text[text.find("{") : text.rfind("}") + 1]


def test_every_structured_behaviour_has_a_fault_but_refusal() -> None:
    """Every structured behaviour but ``refusal`` mangles JSON; only invalid and truncated stop after one."""
    assert set(EXPECTED) == set(STRUCTURED) - {"refusal"}
    assert {name for name, times in STRUCTURED.items() if times is not None} == {
        "json-invalid",
        "json-truncated",
    }


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_each_fault_mangles_the_answer_exactly(fault: str) -> None:
    """Each fault turns the schema's sample, and the mock's ``{"answer": ...}``, into its documented text."""
    assert faulty_json(fault, VALUE, SCHEMA) == EXPECTED[fault]
    assert faulty_json(fault, {"answer": "token0 token1"}, ANSWER_SCHEMA) == EXPECTED_ANSWER[fault]
    assert faulty_json(None, VALUE, SCHEMA) == VALID


def test_json_repair_fixes_repairable_and_stripped_fenced_or_prose() -> None:
    """json-repair restores the object from repairable, fenced and prose texts, not from the invalid one."""
    assert json_repair.repair_json(EXPECTED["json-repairable"], return_objects=True) == VALUE
    for fault in ("json-fenced", "json-prose"):
        stripped = unwrap(EXPECTED[fault])
        assert stripped == VALID
        assert json_repair.repair_json(stripped, return_objects=True) == VALUE
    assert json_repair.repair_json(EXPECTED["json-invalid"], return_objects=True) != VALUE
    with pytest.raises(json.JSONDecodeError):
        json.loads(EXPECTED["json-repairable"])


def test_wrong_type_falls_back_to_a_number_then_looks_into_nested_objects() -> None:
    """No string property: a number gets ``"forty-two"``; neither: a nested object's string gets 42."""
    numbers = {"type": "object", "properties": {"items": {"type": "array"}, "n": {"type": "number"}}}
    assert faulty_json("json-wrong-type", sample(numbers), numbers) == '{"items": [{}], "n": "forty-two"}'
    nested = {
        "type": "object",
        "properties": {"inner": {"$ref": "#/$defs/Inner"}},
        "$defs": {"Inner": {"type": "object", "properties": {"name": {"type": ["string", "null"]}}}},
    }
    assert faulty_json("json-wrong-type", sample(nested), nested) == '{"inner": {"name": 42}}'


def test_missing_field_drops_the_first_required_else_the_first_property() -> None:
    """The first name in ``required`` goes; a schema without ``required`` loses its first property."""
    loose = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    assert faulty_json("json-missing-field", sample(loose), loose) == '{"b": 0}'


def test_bad_urls_reach_nested_arrays_and_respect_max_items() -> None:
    """String items inside arrays of objects become URLs too; ``maxItems`` caps the padding to four items."""
    schema = {
        "type": "object",
        "properties": {
            "pages": {"type": "array", "items": {"$ref": "#/$defs/Page"}},
            "two": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "$defs": {
            "Page": {"type": "object", "properties": {"urls": {"type": "array", "items": {"type": "string"}}}}
        },
    }
    assert json.loads(faulty_json("json-bad-urls", sample(schema), schema)) == {
        "pages": [
            {"urls": ["https://example.com/0", "htp:/broken-1", "https://example.com/2", "htp:/broken-3"]}
        ],
        "two": ["https://example.com/0", "htp:/broken-1"],
    }


def test_truncated_cuts_inside_the_first_string_value_not_a_key() -> None:
    """The cut keeps half the first string value (one character at least); with none, half the text."""
    assert faulty_json("json-truncated", {"k": "ab"}, {}) == '{"k": "a'
    assert faulty_json("json-truncated", {"k": "x"}, {}) == '{"k": "x'
    assert faulty_json("json-truncated", {"n": 1, "s": ["abcd"]}, {}) == '{"n": 1, "s": ["ab'
    assert faulty_json("json-truncated", {"n": 12345}, {}) == '{"n": '
