"""A JSON-schema grammar without free whitespace, for the in-process llama.cpp (the local tier).

llama.cpp turns ``response_format: json_schema`` into a grammar that lets the model put newlines and
up to twenty spaces between any two tokens, and a 135M model does: about half of its answer's
tokens were indentation (an 8-field answer took ~90 tokens, ~42 without). The same schema given as
an llguidance grammar (``%llguidance`` with ``%json`` and ``whitespace_flexible: false``, which the
runtime's llama.cpp build includes) admits no whitespace at all: half the tokens, half the time,
and less room to be cut at ``max_tokens``. llama.cpp does not refuse a grammar it cannot compile —
it logs the error and answers unconstrained — so each grammar is compiled here first, with the
llguidance library the runtime uses, and one that does not compile is not sent (the caller then
takes the schema path, whose failures llama.cpp does answer with an error).
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

__all__ = ["compact_grammar", "fallback_grammar"]


def compact_grammar(schema: dict[str, Any]) -> str | None:
    """The llguidance grammar for ``schema`` with no free whitespace, or None when it does not
    compile, leaves an object open (or the llguidance library is not installed).

    llguidance reads an object that says nothing of other properties as JSON Schema does — open to
    any — where llama.cpp's own converter closes it; a small model offered open objects writes keys
    until ``max_tokens``. So only a schema whose every object says (the bounded copy closes those it
    safely can) is sent this way. What llguidance does not implement and llama.cpp's converter
    ignores too is left out of the grammar as it would be there (``_for_llguidance``); the answer
    is checked against the caller's schema all the same."""
    schema = _for_llguidance(schema)
    if not _closed(schema):
        return None
    return _compiled(orjson.dumps(schema))  # in its own order: the model writes the fields so


def fallback_grammar(schema: dict[str, Any]) -> str | None:
    """A weaker grammar for a schema llama.cpp's converter refused (which would otherwise go in JSON
    mode, where the small model answers with the schema itself): the schema's llguidance grammar
    even with objects left open, else any short flat object. The answer is checked as ever."""
    return _compiled(orjson.dumps(_for_llguidance(schema))) or _compiled(orjson.dumps(_ANY_OBJECT))


# Any object of a few short scalars: what is left when not even an open grammar compiles.
_ANY_OBJECT = {
    "type": "object",
    "additionalProperties": {
        "type": ["string", "integer", "boolean", "null"],
        "maxLength": 32,
        "minimum": -(10**9),
        "maximum": 10**9,
    },
    "maxProperties": 3,
}


# Conditions llguidance does not implement (nor llama.cpp's converter, which ignores them): the
# grammar leaves them to the check of the answer.
_UNCHECKED = frozenset(
    {"if", "then", "else", "not", "dependencies", "dependentRequired", "dependentSchemas"}
    | {"propertyNames", "uniqueItems", "contains"}
)
# Formats the runtime's llguidance spells out (its build is older than the library's: ``uri`` is
# unknown there, and llama.cpp then answers unconstrained); any other is a free string to the
# grammar, and an annotation to Keel's check.
_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_ONE = ("items", "additionalItems", "additionalProperties", "unevaluatedItems")


def _for_llguidance(schema: Any) -> Any:
    """``schema`` as llguidance compiles it: without ``_UNCHECKED`` keywords or formats it does not
    know; drafts 4 to 7 named by their ``http`` address (the one llguidance knows)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _UNCHECKED or (key == "format" and value not in _FORMATS):
            continue
        if key == "pattern" and isinstance(value, str) and not _regex_compiles(value):
            continue  # a look-around, say: any string to the grammar, as to llama.cpp's converter
        if key in ("minProperties", "maxProperties") and not _all_required(schema):
            continue  # llguidance counts properties only where every listed one is required
        if key == "patternProperties" and isinstance(value, dict):
            # a pattern it cannot read is left out: keys it took then go to additionalProperties
            out[key] = {name: _for_llguidance(sub) for name, sub in value.items() if _regex_compiles(name)}
        elif key in _MAPS and isinstance(value, dict):
            out[key] = {name: _for_llguidance(sub) for name, sub in value.items()}
        elif (key in _LISTS and isinstance(value, list)) or (key == "items" and isinstance(value, list)):
            out[key] = [_for_llguidance(sub) for sub in value]
        elif key in _ONE:
            out[key] = _for_llguidance(value)
        elif key == "$schema" and isinstance(value, str):
            out[key] = value.replace("https://json-schema.org/draft-0", "http://json-schema.org/draft-0")
        elif isinstance(value, dict) and key not in ("enum", "const", "default", "examples"):
            out[key] = _for_llguidance(value)  # e.g. definitions grouped under a name of their own
        else:
            out[key] = value
    return out


def _all_required(schema: dict[str, Any]) -> bool:
    properties, required = schema.get("properties") or {}, schema.get("required") or []
    return isinstance(properties, dict) and isinstance(required, list) and set(properties) <= set(required)


def _closed(schema: Any, covered: bool = False) -> bool:
    """Whether every object in ``schema`` says whether it takes properties it does not list, is
    made of members that all do, or is a member of one that does (``covered``): llguidance keeps
    an object none of these close open to any key."""
    if isinstance(schema, list):
        return all(_closed(sub, covered) for sub in schema)
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    is_object = (
        bool(schema.get("properties")) or kind == "object" or (isinstance(kind, list) and "object" in kind)
    )
    says = "additionalProperties" in schema or "$ref" in schema
    if is_object and not (says or covered or _closed_by_members(schema)):
        return False
    members = covered or "additionalProperties" in schema
    return all(
        _closed(sub, members if key in ("anyOf", "oneOf", "allOf") else False)
        for key, sub in _subschemas(schema)
    )


def _closed_by_members(schema: dict[str, Any]) -> bool:
    """Whether the members of one of ``schema``'s combinators all close the object (an ``anyOf`` of
    closed objects, or references to what the walk checks where it is defined)."""
    for key in ("anyOf", "oneOf", "allOf"):
        members = schema.get(key)
        if (
            isinstance(members, list)
            and members
            and all(isinstance(m, dict) and ("additionalProperties" in m or "$ref" in m) for m in members)
        ):
            return True
    return False


def _subschemas(schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each subschema of ``schema`` with the keyword it is under."""
    found: list[tuple[str, Any]] = []
    for key, value in schema.items():
        if key in _MAPS and isinstance(value, dict):
            found += [(key, sub) for sub in value.values()]
        elif (key in _LISTS and isinstance(value, list)) or (key == "items" and isinstance(value, list)):
            found += [(key, sub) for sub in value]
        elif key in _ONE:
            found.append((key, value))
    return found


@functools.lru_cache(maxsize=1024)
def _regex_compiles(pattern: str) -> bool:
    """Whether llguidance reads ``pattern`` (no look-around, no back-reference, …)."""
    try:
        from llguidance import LLMatcher
    except ImportError:
        return False
    schema = orjson.dumps({"type": "string", "pattern": pattern}).decode()
    return not LLMatcher.validate_grammar(
        LLMatcher.grammar_from_lark("%llguidance {}\nstart: %json " + schema)
    )


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: bytes) -> str | None:
    try:
        from llguidance import LLMatcher
    except ImportError:
        return None
    # coerce_one_of: a oneOf is read as an anyOf (as llama.cpp's converter reads it)
    guidance = {"whitespace_flexible": False, "coerce_one_of": True}
    schema = {**orjson.loads(schema_json), "x-guidance": guidance}
    grammar = "%llguidance {}\nstart: %json " + orjson.dumps(schema).decode()
    if LLMatcher.validate_grammar(LLMatcher.grammar_from_lark(grammar)):
        return None  # the error text: this schema is asked for through response_format instead
    return grammar
