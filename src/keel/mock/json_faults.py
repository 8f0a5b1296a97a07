"""Structured-output faults: the JSON a healthy answer would give, mangled as a behaviour names.

Each function takes the valid value (and the JSON Schema it was sampled from, where the fault
depends on it) and returns the text the mock sends as content or tool arguments.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "ANSWER_SCHEMA",
    "INVALID_TEXT",
    "PROSE_AFTER",
    "PROSE_BEFORE",
    "REFUSAL_TEXT",
    "STRUCTURED",
    "faulty_json",
]

REFUSAL_TEXT = "I can't help with that."
INVALID_TEXT = "I am unable to answer in JSON right now."
PROSE_BEFORE = "Sure! Here is the JSON you asked for:\n"
PROSE_AFTER = "\nLet me know if you need anything else."
# The schema implied by the mock's own JSON answer, ``{"answer": "<the words>"}``.
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
_URL_ITEMS = 4
_SCALARS = ("number", "integer", "boolean")


def faulty_json(fault: str | None, value: Any, schema: Any) -> str:
    """``value`` as JSON text, mangled as ``fault`` says (``None``: as is)."""
    if fault is None:
        return json.dumps(value)
    return _FAULTS[fault](value, schema if isinstance(schema, dict) else {})


def _fenced(value: Any, schema: dict[str, Any]) -> str:
    return f"```json\n{json.dumps(value)}\n```"


def _prose(value: Any, schema: dict[str, Any]) -> str:
    return PROSE_BEFORE + json.dumps(value) + PROSE_AFTER


def _invalid(value: Any, schema: dict[str, Any]) -> str:
    return INVALID_TEXT


def _repairable(value: Any, schema: dict[str, Any]) -> str:
    """Single-quoted strings, and a comma before the last closing bracket."""
    text = _single_quoted(value)
    return text[:-1] + "," + text[-1] if text[-1:] in ("}", "]") else text


def _single_quoted(value: Any) -> str:
    if isinstance(value, str):
        inner = json.dumps(value)[1:-1].replace('\\"', '"').replace("'", "\\'")
        return f"'{inner}'"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_single_quoted(k)}: {_single_quoted(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_single_quoted(item) for item in value) + "]"
    return json.dumps(value)


def _truncated(value: Any, schema: dict[str, Any]) -> str:
    """Cut in the middle of the first string value (half its characters, at least one, kept); half
    the text if there is no string value."""
    text = json.dumps(value)
    start = _first_string_value(text)
    if start is None:
        return text[: len(text) // 2]
    end = start
    while text[end] != '"':
        end += 2 if text[end] == "\\" else 1
    return text[: start + min(end - start, max(1, (end - start) // 2))]


def _first_string_value(text: str) -> int | None:
    """Where the first string that is not an object key starts (after its quote) in JSON ``text``."""
    index = 0
    while index < len(text):
        if text[index] != '"':
            index += 1
            continue
        start = end = index + 1
        while text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        if not text[end + 1 :].lstrip().startswith(":"):
            return start
        index = end + 1
    return None


def _wrong_type(value: Any, schema: dict[str, Any]) -> str:
    """The first string property gets ``42``; with none, the first number/boolean one ``"forty-two"``."""
    mangled = copy.deepcopy(value)
    if not _break_a_type(mangled, schema, schema):
        if isinstance(mangled, dict) and mangled:
            mangled[next(iter(mangled))] = 42
        elif not isinstance(mangled, dict):
            mangled = "forty-two" if isinstance(mangled, int | float | bool) else 42
    return json.dumps(mangled)


def _break_a_type(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """Give one property of the object ``value`` a wrong type; look into nested objects last."""
    properties = _properties(schema, root)
    if not isinstance(value, dict) or not properties:
        return False
    for wanted, wrong in ((("string",), 42), (_SCALARS, "forty-two")):
        for name, sub in properties.items():
            if name in value and _types(sub, root) & set(wanted):
                value[name] = wrong
                return True
    return any(_break_a_type(value.get(name), _resolve(sub, root), root) for name, sub in properties.items())


def _missing_field(value: Any, schema: dict[str, Any]) -> str:
    """Without the first required property (else the first property)."""
    if not isinstance(value, dict):
        return json.dumps(value)
    required = [name for name in schema.get("required") or [] if name in value]
    names = required or [name for name in _properties(schema, schema) if name in value] or list(value)
    return json.dumps({k: v for k, v in value.items() if not names or k != names[0]})


def _bad_urls(value: Any, schema: dict[str, Any]) -> str:
    """Strings in arrays become URLs, valid and invalid in turn; a string array gets 4 items or more."""
    return json.dumps(_urls(value, schema, schema))


def _urls(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        properties = _properties(schema, root)
        return {k: _urls(v, _resolve(properties.get(k), root), root) for k, v in value.items()}
    if not isinstance(value, list):
        return value
    items = _resolve(schema.get("items"), root)
    if value and all(isinstance(item, str) for item in value):
        count = max(len(value), _URL_ITEMS)
        if isinstance(schema.get("maxItems"), int):
            count = max(len(value), min(count, schema["maxItems"]))
        return [f"https://example.com/{i}" if i % 2 == 0 else f"htp:/broken-{i}" for i in range(count)]
    return [_urls(item, items, root) for item in value]


def _properties(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    properties = _resolve(schema, root).get("properties")
    return properties if isinstance(properties, dict) else {}


def _types(schema: Any, root: dict[str, Any]) -> set[str]:
    kind = _resolve(schema, root).get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k for k in kinds if isinstance(k, str)}


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/x``) followed, a few levels deep."""
    for _ in range(8):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return schema
        node: Any = root
        for part in filter(None, ref.lstrip("#/").split("/")):
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, dict) else None
        schema = node
    return {}


_FAULTS: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "json-fenced": _fenced,
    "json-prose": _prose,
    "json-repairable": _repairable,
    "json-invalid": _invalid,
    "json-wrong-type": _wrong_type,
    "json-missing-field": _missing_field,
    "json-truncated": _truncated,
    "json-bad-urls": _bad_urls,
}
# The behaviours that change a healthy answer's content, and how many requests each hits by
# default (None: every one). Past that they answer the valid JSON.
STRUCTURED: dict[str, int | None] = {
    "json-fenced": None,
    "json-prose": None,
    "json-repairable": None,
    "json-invalid": 1,
    "json-wrong-type": None,
    "json-missing-field": None,
    "json-truncated": 1,
    "json-bad-urls": None,
    "refusal": None,
}
