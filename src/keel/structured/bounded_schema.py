"""``bounded``: a copy of a JSON Schema that a small model cannot ramble in, for a grammar only.

A grammar compiled from a schema (llama.cpp's) lets a free string or an array without ``maxItems``
go on until ``max_tokens`` cuts it, and a 135M model often does. The copy adds the bounds such a
schema leaves out: ``maxLength`` on free strings, ``maxItems`` on arrays (one item where items must
be unique), ``maxProperties`` on maps, nine digits at most for a number, and a number as the whole
numbers in its range (llama.cpp's grammar keeps integers in a range, not other numbers). Objects
composed with ``allOf`` are first merged into one object where that keeps their values
(``_all_of``). An object that takes any property it does not list is closed
(``additionalProperties: false``) once every name it or its combinators require or describe is
listed — a name only a combinator gives is listed with the schema found for it — and a closed
object keeps its required properties and the first few others (a model offered thirty optional
keys writes them all); ``{}`` is the grammar's one object where the schema allows any. Every value
the copy accepts, the original accepts too, so the answer is still checked against the caller's
schema, never this one. What the function does not understand it
leaves as it is; the caller's schema is never changed.
"""

from __future__ import annotations

from typing import Any

from ._all_of import merged, ref_targets, resolve
from ._scalars import bounded_pattern, integer_range, whole_range

__all__ = ["ARRAY_ITEMS", "LARGEST", "OPTIONAL_PROPERTIES", "STRING_LENGTH", "bounded"]

STRING_LENGTH = 32
"""Characters allowed in a string the schema leaves unbounded (a name, a city, a short phrase)."""

ARRAY_ITEMS = 3
"""Items allowed in an array the schema leaves unbounded (at least its ``minItems``)."""

LARGEST = 999_999_999
"""The bound of a number the schema leaves unbounded (nine digits: a count, a size, a port, an id)."""

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
        array_items: ``maxItems`` for arrays without one (raised to their ``minItems``), and
            ``maxProperties`` for objects whose keys are free (a map).
        optional_properties: optional properties a closed object keeps beside its required ones.

    Returns:
        A new schema whose instances are all instances of ``schema``.
    """
    if not isinstance(schema, dict):
        return schema
    schema = merged(schema)
    bounder = _Bounder(string_length, array_items, optional_properties, schema)
    return bounder.visit(schema, "", in_all_of=False)


class _Bounder:
    def __init__(self, string_length: int, array_items: int, optional: int, root: dict[str, Any]) -> None:
        self.string_length = string_length
        self.array_items = array_items
        self.optional = optional
        self.root = root
        self.all_of_refs = _all_of_refs(root)  # definitions that are part of an ``allOf``: never closed
        self.targets = ref_targets(root)  # what a ``$ref`` points to is never trimmed away

    def visit(self, schema: Any, at: str, *, in_all_of: bool) -> Any:
        if not isinstance(schema, dict):
            return schema
        out = dict(schema)
        needed = _needed(out, self.root) if "object" in _types(out) and not in_all_of else None
        if needed and isinstance(out.get("properties", {}), dict):
            out["properties"] = _listed(out, needed)
        for key in _ONE:
            if isinstance(out.get(key), dict):
                out[key] = self.visit(out[key], f"{at}/{key}", in_all_of=False)
            elif key == "items" and isinstance(out.get(key), list):  # drafts 4 to 2019-09: a tuple
                out[key] = [
                    self.visit(item, f"{at}/items/{i}", in_all_of=False) for i, item in enumerate(out[key])
                ]
        # a member of an object that lists properties (or of a part of one) is part of that object:
        # closing the member would shut out the object's own properties (the object is closed instead)
        shared = bool(out.get("properties")) or in_all_of
        for key in _MANY:
            if isinstance(out.get(key), list):
                part = key == "allOf" or (shared and key in ("anyOf", "oneOf"))
                out[key] = [
                    self.visit(item, f"{at}/{key}/{i}", in_all_of=part) for i, item in enumerate(out[key])
                ]
        for key in _NAMED:
            if isinstance(out.get(key), dict):
                out[key] = {
                    name: self.visit(sub, f"{at}/{key}/{_escaped(name)}", in_all_of=False)
                    for name, sub in out[key].items()
                }
        for key in _DEFS:
            if isinstance(out.get(key), dict):
                out[key] = {
                    name: self.visit(
                        sub, f"{at}/{key}/{_escaped(name)}", in_all_of=f"#/{key}/{name}" in self.all_of_refs
                    )
                    for name, sub in out[key].items()
                }
        kinds = _types(out)
        if (
            "string" in kinds
            and not any(key in out for key in _SHAPED)
            and out.get("format") not in _GRAMMAR_FORMATS
        ):
            most = max(self.string_length, _int(out.get("minLength")))  # a long maxLength is lowered too
            out["maxLength"] = min(out["maxLength"], most) if _is_int(out.get("maxLength")) else most
        if "string" in kinds and isinstance(out.get("pattern"), str):
            out["pattern"] = bounded_pattern(out["pattern"], self.string_length) or out["pattern"]
        if "array" in kinds and not _is_tuple(out):
            if out.get("uniqueItems") is True and _int(out.get("minItems")) <= 1:
                out["maxItems"] = min(1, out.get("maxItems", 1))  # one item is always unique
            else:  # a long maxItems is lowered too
                most = max(self.array_items, _int(out.get("minItems")))
                out["maxItems"] = min(out["maxItems"], most) if _is_int(out.get("maxItems")) else most
            if _blank(out.get("items", {})) and not any(
                key in out for key in ("contains", "prefixItems", "$ref")
            ):
                out["items"] = self.scalar()  # items of any kind: short scalars, so none nests without end
        if "object" in kinds and not in_all_of:
            self._close(out, at, None if needed is None else set(needed))
        if out.get("type") == "number":
            out.update(whole_range(out, LARGEST))
        elif kinds & {"integer", "number"}:
            out.update(integer_range(out, LARGEST))
        return out

    def scalar(self) -> dict[str, Any]:
        """What an array whose items may be anything holds in the copy: a short scalar."""
        kinds = ["string", "integer", "boolean", "null"]
        return {"type": kinds, "maxLength": self.string_length, "minimum": -LARGEST, "maximum": LARGEST}

    def _close(self, out: dict[str, Any], at: str, needed: set[str] | None) -> None:
        """Close ``out`` (an object) to the properties it lists where no instance needs others, keep
        its required and first few optional ones, and bound how many keys a map takes."""
        if _free(out):
            out["additionalProperties"] = False  # any object: the grammar's is {} alone
            return
        if _closable(out, needed):
            out["additionalProperties"] = False
        closed = out.get("additionalProperties") is False and isinstance(out.get("properties"), dict)
        if closed and out["properties"] and _int(out.get("minProperties")) <= len(out["properties"]):
            out.pop("patternProperties", None)  # closed: keys only a pattern took are left out (narrower)
        # with pattern properties a dropped name could match a pattern instead, and be let through
        if closed and needed is not None and "patternProperties" not in out:
            pointed = {
                name for name in out["properties"] if self._pointed_to(f"{at}/properties/{_escaped(name)}")
            }
            out["properties"] = _optional_kept(out, self.optional, needed | pointed)
        elif not out.get("properties") and "maxProperties" not in out and _map(out):
            out["maxProperties"] = max(self.array_items, _int(out.get("minProperties")))

    def _pointed_to(self, at: str) -> bool:
        return any(target == f"#{at}" or target.startswith(f"#{at}/") for target in self.targets)


def _free(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is any object at all (``{"type": "object"}`` and nothing that shapes it),
    where a grammar lets a model nest keys without end and ``{}`` is as valid as any."""
    shaping = (
        "properties", "patternProperties", "unevaluatedProperties",
        "propertyNames", "required", "minProperties", "dependentRequired", "dependencies",
        "dependentSchemas", "allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "not", "enum", "const",
    )  # fmt: skip
    if schema.get("additionalProperties", True) not in (True, {}):
        return False
    return not any(key in schema for key in shaping)


def _optional_kept(schema: dict[str, Any], optional: int, keep: set[str]) -> dict[str, Any]:
    """A closed object's properties: every required one and those in ``keep`` (named by a
    combinator, or pointed to by a ``$ref``), and the first ``optional`` others (more when
    ``minProperties`` asks); all of them when other keywords tie properties together."""
    properties: dict[str, Any] = schema["properties"]
    required = set(schema.get("required") or ()) | keep
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


def _closable(schema: dict[str, Any], needed: set[str] | None) -> bool:
    """Whether closing an object to the properties it lists leaves its instances possible: it lists
    some, takes others (``additionalProperties`` unsaid, ``true``, ``{}``, or a schema beside listed
    properties, as GitLab's jobs beside its keywords), and every name it or its combinators require
    or describe (``needed``) is among them. Closing only ever narrows: what is lost are instances
    with other keys, none of them needed."""
    properties = schema.get("properties", {})
    if not isinstance(properties, dict) or needed is None or "$ref" in schema:
        return False
    others = schema.get("additionalProperties", True)
    if not (_takes_any_other(schema) or (properties and isinstance(others, dict))):
        return False
    if not properties and not ("patternProperties" in schema and not needed):
        return False
    if not needed <= properties.keys():
        return False  # a name listed or required elsewhere would be shut out
    minimum = schema.get("minProperties")
    return "patternProperties" in schema or not (isinstance(minimum, int) and minimum > len(properties))


def _takes_any_other(schema: dict[str, Any]) -> bool:
    """Whether an object takes any property it does not list, with any value."""
    open_ended = (
        schema.get("additionalProperties", True) in (True, {}) and "unevaluatedProperties" not in schema
    )
    return open_ended and "$ref" not in schema


def _needed(
    schema: dict[str, Any], root: Any, seen: frozenset[str] = frozenset()
) -> dict[str, list[Any]] | None:
    """The names an object requires, and those its combinators (``anyOf``, ``oneOf``, ``allOf``,
    ``then``, ``else``, ``dependentSchemas``, ``dependencies``) require or list, each with the
    schemas the combinators give it; None when one of them is a reference that cannot be followed."""
    names: dict[str, list[Any]] = {name: [] for name in schema.get("required") or () if isinstance(name, str)}
    members: list[Any] = []
    for key in ("anyOf", "oneOf", "allOf"):
        listed = schema.get(key)
        members += listed if isinstance(listed, list) else []
    members += [schema[key] for key in ("then", "else") if key in schema]
    for key in ("dependentSchemas", "dependencies", "dependentRequired"):
        for name, value in (schema.get(key) or {}).items() if isinstance(schema.get(key), dict) else ():
            names.setdefault(name, [])
            for other in value if isinstance(value, list) else ():
                names.setdefault(other, [])
            members += [value] if isinstance(value, dict) else []
    for member in members:
        if not isinstance(member, dict):
            continue
        ref = member.get("$ref")
        if ref is not None:
            if ref in seen:
                continue
            member = resolve(root, ref) if isinstance(ref, str) else None
            if not isinstance(member, dict):
                return None
            seen = seen | {ref}
        inner = _needed(member, root, seen)
        if inner is None:
            return None
        properties = member.get("properties")
        for name, sub in (properties if isinstance(properties, dict) else {}).items():
            inner.setdefault(name, []).append(sub)
        for name, found in inner.items():
            known = names.setdefault(name, [])
            known += [sub for sub in found if not _blank(sub) and sub not in known]
    return names


def _listed(schema: dict[str, Any], needed: dict[str, list[Any]]) -> dict[str, Any]:
    """``schema``'s properties with the names its combinators need: one it leaves blank takes the
    schemas they give it (``anyOf``), one it does not list is added so (where it takes any other
    property); each only narrows what the object takes, and lets it be closed."""
    properties = dict(schema.get("properties") or {})
    for name, found in needed.items():
        if name in properties and not _blank(properties[name]):
            continue
        if name in properties or _takes_any_other(schema):
            either = found[0] if len(found) == 1 else {"anyOf": found} if found else properties.get(name, {})
            properties[name] = either
    return properties


def _blank(schema: Any) -> bool:
    """Whether ``schema`` takes any value (``true``, ``{}``, or nothing but annotations)."""
    return schema is True or (isinstance(schema, dict) and all(key in _NOTES for key in schema))


_NOTES = frozenset({"title", "description", "$comment", "markdownDescription", "examples", "default"})


def _map(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is an object whose keys are free and whose values are described (a map):
    the grammar lets a model add keys until it is cut."""
    values = schema.get("additionalProperties")
    return (isinstance(values, dict) and values != {}) or "patternProperties" in schema


def _is_tuple(schema: dict[str, Any]) -> bool:
    """A tuple's length is set by its positions (``prefixItems``, or ``items`` as a list)."""
    return "prefixItems" in schema or isinstance(schema.get("items"), list)


def _escaped(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
