"""``bounded``: a copy of a JSON Schema that a small model cannot ramble in, for a grammar only.

A grammar compiled from a schema (llama.cpp's) lets a free string or an array without ``maxItems``
go on until ``max_tokens`` cuts it, and a 135M model often does. The copy adds the bounds such a
schema leaves out: ``maxLength`` on free strings, ``maxItems`` on arrays, ``additionalProperties:
false`` on objects with listed properties (keeping the required ones and the first few others: a
model offered thirty optional keys writes them all) and on objects that may hold anything (``{}``
is then the grammar's one object), and whole numbers for a number between two bounds
(llama.cpp's grammar keeps integers in a range, not other numbers). Every value the copy accepts,
the original accepts too, so the answer is still checked against the caller's schema, never this
one. What the function does not understand it leaves as it is; the caller's schema is never changed.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ARRAY_ITEMS", "OPTIONAL_PROPERTIES", "STRING_LENGTH", "bounded"]

STRING_LENGTH = 32
"""Characters allowed in a string the schema leaves unbounded (a name, a city, a short phrase)."""

ARRAY_ITEMS = 3
"""Items allowed in an array the schema leaves unbounded (at least its ``minItems``)."""

OPTIONAL_PROPERTIES = 3
"""Optional properties kept in a closed object (beside every required one), in the schema's order."""

# Strings whose shape is already fixed: a bound on their length could only make them impossible.
_SHAPED = ("enum", "const", "pattern", "contentEncoding", "contentMediaType")
# Formats llama.cpp's converter spells out (fixed lengths); any other (uri, email, …) is a free
# string to it, and gets a length like one.
_GRAMMAR_FORMATS = frozenset({"date", "time", "date-time", "uuid"})
# Keywords whose subschemas describe the same value (or part of it) and are bounded in turn.
_ONE = ("additionalProperties", "items", "additionalItems", "contains", "unevaluatedItems")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "patternProperties")
_DEFS = ("$defs", "definitions")


def bounded(
    schema: Any,
    *,
    string_length: int = STRING_LENGTH,
    array_items: int = ARRAY_ITEMS,
    optional_properties: int = OPTIONAL_PROPERTIES,
) -> Any:
    """A bounded copy of ``schema`` (a JSON Schema); ``schema`` itself is left unchanged.

    Args:
        schema: the caller's JSON Schema (a dict; booleans and anything else come back as they are).
        string_length: ``maxLength`` for strings without one, a length or a fixed shape.
        array_items: ``maxItems`` for arrays without one (raised to their ``minItems``).
        optional_properties: optional properties a closed object keeps beside its required ones.

    Returns:
        A new schema whose instances are all instances of ``schema``.
    """
    bounder = _Bounder(string_length, array_items, optional_properties, _all_of_refs(schema))
    return bounder.visit(schema, in_all_of=False)


class _Bounder:
    def __init__(self, string_length: int, array_items: int, optional: int, all_of_refs: set[str]) -> None:
        self.string_length = string_length
        self.array_items = array_items
        self.optional = optional
        self.all_of_refs = all_of_refs  # definitions that are part of an ``allOf``: never closed

    def visit(self, schema: Any, *, in_all_of: bool) -> Any:
        if not isinstance(schema, dict):
            return schema
        out = dict(schema)
        for key in _ONE:
            if isinstance(out.get(key), dict):
                out[key] = self.visit(out[key], in_all_of=False)
            elif key == "items" and isinstance(out.get(key), list):  # drafts 4 to 2019-09: a tuple
                out[key] = [self.visit(item, in_all_of=False) for item in out[key]]
        for key in _MANY:
            if isinstance(out.get(key), list):
                out[key] = [self.visit(item, in_all_of=key == "allOf") for item in out[key]]
        for key in _NAMED:
            if isinstance(out.get(key), dict):
                out[key] = {name: self.visit(sub, in_all_of=False) for name, sub in out[key].items()}
        for key in _DEFS:
            if isinstance(out.get(key), dict):
                out[key] = {
                    name: self.visit(sub, in_all_of=f"#/{key}/{name}" in self.all_of_refs)
                    for name, sub in out[key].items()
                }
        kinds = _types(out)
        if (
            "string" in kinds
            and not any(key in out for key in ("maxLength", *_SHAPED))
            and out.get("format") not in _GRAMMAR_FORMATS
        ):
            out["maxLength"] = max(self.string_length, _int(out.get("minLength")))
        if "string" in kinds and isinstance(out.get("pattern"), str):
            out["pattern"] = _bounded_pattern(out["pattern"], self.string_length) or out["pattern"]
        if "array" in kinds and "maxItems" not in out and not _is_tuple(out):
            out["maxItems"] = max(self.array_items, _int(out.get("minItems")))
        if "object" in kinds and not in_all_of and _closable(out):
            out["additionalProperties"] = False
            out["properties"] = _optional_kept(out, self.optional)
        elif kinds == {"object"} and not in_all_of and _free(out):
            out["additionalProperties"] = False  # any object: the grammar's is {} alone
        if out.get("type") == "number":
            out.update(_whole_range(out))
        return out


def _free(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is any object at all (``{"type": "object"}`` and nothing that shapes it),
    where a grammar lets a model nest keys without end and ``{}`` is as valid as any."""
    shaping = (
        "properties", "additionalProperties", "patternProperties", "unevaluatedProperties",
        "propertyNames", "required", "minProperties", "dependentRequired", "dependencies",
        "dependentSchemas", "allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "not", "enum", "const",
    )  # fmt: skip
    return not any(key in schema for key in shaping)


def _optional_kept(schema: dict[str, Any], optional: int) -> dict[str, Any]:
    """A closed object's properties: every required one, and the first ``optional`` others (more
    when ``minProperties`` asks); all of them when other keywords tie properties together."""
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required") or ())
    if any(key in schema for key in ("dependencies", "dependentRequired", "maxProperties")):
        return properties
    room = max(optional, _int(schema.get("minProperties")) - len(required))
    kept: dict[str, Any] = {}
    for name, sub in properties.items():
        if name in required or room > 0:
            room -= name not in required
            kept[name] = sub
    return kept


def _all_of_refs(schema: Any) -> set[str]:
    """The ``$ref`` of every ``allOf`` member anywhere in ``schema``: a definition that another
    schema extends must stay open to the properties the extension adds."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            members = node.get("allOf")
            for member in members if isinstance(members, list) else ():
                if isinstance(member, dict) and isinstance(member.get("$ref"), str):
                    found.add(member["$ref"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types ``schema`` names, or that its keywords imply when it names none."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    if "properties" in schema:
        return {"object"}
    return set()


def _closable(schema: dict[str, Any]) -> bool:
    """Whether an object may be closed to properties it does not list without losing a valid value:
    it lists some, says nothing of others, and requires none it does not list."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return False
    open_ended = ("additionalProperties", "patternProperties", "unevaluatedProperties", "propertyNames")
    if any(key in schema for key in open_ended):
        return False
    if any(key in schema for key in ("allOf", "anyOf", "oneOf", "$ref", "if", "dependentSchemas")):
        return False  # properties listed elsewhere would be shut out
    required = schema.get("required")
    if isinstance(required, list) and not all(name in properties for name in required):
        return False
    minimum = schema.get("minProperties")
    return not (isinstance(minimum, int) and minimum > len(properties))


# Escapes llama.cpp's pattern converter does not take, as the ASCII classes they include.
_CLASSES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \\t\\n\\r"}


def _bounded_pattern(pattern: str, most: int) -> str | None:
    """An anchored pattern (``^…$``) with ``+``, ``*`` and ``{m,}`` bounded to ``most`` repeats and
    ``\\d``, ``\\w``, ``\\s`` spelled as ASCII classes — every string it matches, the original
    matches; None for a pattern this cannot rewrite safely (unanchored, lazy or possessive
    quantifiers, negated escapes, anything unexpected)."""
    if not (pattern.startswith("^") and pattern.endswith("$")) or pattern.endswith("\\$"):
        return None
    out: list[str] = []
    in_class = quantified = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                return None
            code = pattern[i + 1]
            if code in "DWSbB":
                return None
            if code in _CLASSES:
                out.append(_CLASSES[code] if in_class else f"[{_CLASSES[code]}]")
            else:
                out.append(pattern[i : i + 2])
            i, quantified = i + 2, False
            continue
        if in_class:
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char in "+*?{":
            if quantified:
                return None  # a lazy or possessive quantifier
            if char == "{":
                end = pattern.find("}", i)
                low, comma, high = pattern[i + 1 : end].partition(",")
                if end < 0 or not low.isdigit() or (high and not high.isdigit()):
                    return None
                out.append(f"{{{low},{int(low) + most}}}" if comma and not high else pattern[i : end + 1])
                i = end
            else:
                out.append({"+": f"{{1,{most}}}", "*": f"{{0,{most}}}", "?": "?"}[char])
            quantified = True
            i += 1
            continue
        else:
            out.append(char)
        quantified = False
        i += 1
    return None if in_class else "".join(out)


def _whole_range(schema: dict[str, Any]) -> dict[str, Any]:
    """``type: integer`` with the whole numbers inside a number's two bounds, or nothing to change
    (a bound missing or not a number, a ``multipleOf``, or no whole number in the range)."""
    if "multipleOf" in schema:
        return {}
    low, high = _bound(schema, "minimum", "exclusiveMinimum"), _bound(schema, "maximum", "exclusiveMaximum")
    if low is None or high is None:
        return {}
    first = math.floor(low[0]) + 1 if low[1] else math.ceil(low[0])
    last = math.ceil(high[0]) - 1 if high[1] else math.floor(high[0])
    if first > last:
        return {}
    return {"type": "integer", "minimum": first, "maximum": last}


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """The tighter of a bound's inclusive and exclusive (draft 6+) forms, and whether it is exclusive."""
    found: list[tuple[float, bool]] = []
    for key, strict in ((inclusive, False), (exclusive, True)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found.append((float(value), strict))
        elif isinstance(value, bool):  # draft 4: exclusiveMinimum is a flag on minimum
            return None
    if not found:
        return None
    if inclusive == "minimum":
        return max(found, key=lambda bound: (bound[0], bound[1]))
    return min(found, key=lambda bound: (bound[0], not bound[1]))


def _is_tuple(schema: dict[str, Any]) -> bool:
    """A tuple's length is set by its positions (``prefixItems``, or ``items`` as a list)."""
    return "prefixItems" in schema or isinstance(schema.get("items"), list)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
