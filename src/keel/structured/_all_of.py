"""``merged``: a schema whose ``allOf``-composed objects are written as one object, for a grammar.

A configuration schema often builds an object from parts (``allOf: [{"$ref": "#/definitions/base"},
{"properties": {...}}]``). A grammar compiler either ignores the parts (an object listing no
properties of its own) or, as llama.cpp's converter does, makes every property of every part
required, and the bounds of ``bounded_schema`` cannot close or trim an object whose properties are
listed elsewhere. Merged, the parts become one object: their properties side by side (a name two
parts list takes both schemas, as an ``allOf`` of its own), their ``required`` names together, what
else they say kept in an ``allOf`` beside. That is the same set of values, provided no part decides
about properties it does not list itself (``additionalProperties``, ``unevaluatedProperties``) —
such an ``allOf`` is left as it is, as is one with a part that is no object, a reference that
cannot be followed, or a member another ``$ref`` points into.
"""

from __future__ import annotations

from typing import Any

__all__ = ["merged", "ref_targets", "resolve"]

# Keywords that only explain a part; a merged part drops them (the object keeps its own).
_NOTES = frozenset({"title", "description", "$comment", "examples", "default", "markdownDescription"})
# Keywords that decide about properties a part does not list: a part saying one cannot be merged.
_OPEN_ENDED = ("additionalProperties", "unevaluatedProperties")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def merged(schema: Any) -> Any:
    """A copy of ``schema`` with each ``allOf`` of objects merged into its object where that keeps
    the same values; ``schema`` itself is left unchanged."""
    return _Merger(schema).visit(schema, "")


def ref_targets(schema: Any) -> set[str]:
    """Every ``$ref`` string anywhere in ``schema``."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                found.add(node["$ref"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def resolve(root: Any, ref: str) -> Any:
    """The subschema a local ``$ref`` (``#/…``) points to in ``root``, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class _Merger:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.targets = ref_targets(root)

    def visit(self, node: Any, at: str) -> Any:
        if isinstance(node, list):
            return [self.visit(item, f"{at}/{i}") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("allOf"), list) and not self._pointed_into(f"{at}/allOf"):
            node = self._merge(node) or node
            node = _with_cases(node)
        node = _with_conditional_required(node)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
                out[key] = {
                    name: self.visit(sub, f"{at}/{key}/{_escaped(name)}") for name, sub in value.items()
                }
            elif key in ("enum", "const", "default", "examples", "required"):
                out[key] = value
            else:
                out[key] = self.visit(value, f"{at}/{_escaped(key)}")
        return out

    def _pointed_into(self, at: str) -> bool:
        return any(target == f"#{at}" or target.startswith(f"#{at}/") for target in self.targets)

    def _merge(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """``node`` with its ``allOf`` merged in, or None when that could change its values."""
        parts = self._parts(node["allOf"], set())
        own = {key: value for key, value in node.items() if key != "allOf"}
        if parts is None or not all(_mergeable(part) for part in (own, *parts)):
            return None
        if not any(_about_objects(part) for part in (own, *parts)):
            return None
        out = dict(own)
        properties: dict[str, Any] = dict(own.get("properties") or {})
        required: list[str] = list(own.get("required") or [])
        rest: list[dict[str, Any]] = []
        for part in parts:
            for name, sub in (part.get("properties") or {}).items():
                properties[name] = _both(properties[name], sub) if name in properties else sub
            required += [name for name in part.get("required") or () if name not in required]
            least, most = part.get("minProperties"), part.get("maxProperties")
            if isinstance(least, int):
                out["minProperties"] = max(least, out.get("minProperties", 0))
            if isinstance(most, int):
                out["maxProperties"] = min(most, out.get("maxProperties", most))
            skip = {"type", "properties", "required", "minProperties", "maxProperties", *_NOTES}
            left = {key: value for key, value in part.items() if key not in skip}
            if left:
                rest.append(left)
        if any(_types(part) for part in (own, *parts)):
            out["type"] = "object"
        if properties:
            out["properties"] = properties
        if required:
            out["required"] = required
        if rest:
            out["allOf"] = rest
        return out

    def _parts(self, members: list[Any], seen: set[str]) -> list[dict[str, Any]] | None:
        """The members of an ``allOf``, references followed and nested ``allOf``s flattened; None
        for one that cannot be followed (a remote or missing reference, a cycle, not an object)."""
        parts: list[dict[str, Any]] = []
        for member in members:
            if member is True or member == {}:
                continue
            if not isinstance(member, dict):
                return None
            ref = member.get("$ref")
            if ref is not None:
                target = resolve(self.root, ref) if isinstance(ref, str) and ref not in seen else None
                if not isinstance(target, dict) or "$id" in target:
                    return None
                inner = self._parts([target], seen | {ref})
                if inner is None:
                    return None
                parts += inner
                member = {key: value for key, value in member.items() if key != "$ref"}
            nested = member.get("allOf")
            if isinstance(nested, list):
                inner = self._parts(nested, seen)
                if inner is None:
                    return None
                parts += inner
                member = {key: value for key, value in member.items() if key != "allOf"}
            elif nested is not None:
                return None
            if any(key not in _NOTES for key in member):
                parts.append(member)
        return parts


def _with_cases(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with an ``anyOf`` of its cases where its ``allOf`` is conditions on one property's
    value (``if: {properties: {type: {const: "markdown"}}}, then: {...}``, as GitHub's issue forms
    and Ansible's role metadata say which fields go with which kind): one case per condition, that
    value and its ``then``. The conditions stay, so this only narrows; a grammar, which cannot
    carry conditions, can carry the cases. Two conditions at least, all on the same property with
    different values, none with an ``else``; an object that already has an ``anyOf`` or ``oneOf``
    is left as it is."""
    members = node.get("allOf")
    if not isinstance(members, list) or len(members) < 2 or "anyOf" in node or "oneOf" in node:
        return node
    cases: list[dict[str, Any]] = []
    seen: list[Any] = []
    name = None
    for member in members:
        found = _condition(member)
        if found is None or (name is not None and found[0] != name) or found[1] in seen:
            return node
        name, value, then = found
        seen.append(value)
        properties = dict(then.get("properties") or {})
        properties[name] = (
            _both(properties[name], {"const": value}) if name in properties else {"const": value}
        )
        required = [
            *(then.get("required") or []),
            *([name] if name not in (then.get("required") or []) else []),
        ]
        cases.append({**then, "properties": properties, "required": required})
    return {**node, "anyOf": cases}


def _with_conditional_required(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` requiring the names its conditions' ``then``s require (Dependabot's "``schedule``
    unless ``multi-ecosystem-group``", pyproject's "``version`` unless dynamic"): a grammar cannot
    carry a condition, and a name always there meets it either way — this only narrows. Only for an
    object that lists properties, no ``else``, no ``anyOf`` of cases, and ``then``s that say
    nothing but which names they require and describe."""
    if not isinstance(node.get("properties"), dict) or "anyOf" in node or "oneOf" in node:
        return node
    listed = node.get("allOf")
    members: list[Any] = listed if isinstance(listed, list) else []
    conditions = [m for m in (node, *members) if isinstance(m, dict) and "if" in m and "then" in m]
    names: list[str] = []
    for condition in conditions:
        then = condition["then"]
        if "else" in condition or not isinstance(then, dict):
            return node
        if any(key not in ("required", "properties") and not _note(key) for key in then):
            return node
        names += [name for name in then.get("required") or () if isinstance(name, str)]
    required = list(node.get("required") or [])
    added = [name for name in dict.fromkeys(names) if name not in required]
    return {**node, "required": [*required, *added]} if added else node


def _note(key: str) -> bool:
    return key in _NOTES or key.startswith("$$")


def _condition(member: Any) -> tuple[str, Any, dict[str, Any]] | None:
    """The property, the value and the ``then`` of ``{if: {properties: {p: {const: v}}}, then}``."""
    if not isinstance(member, dict) or set(member) - {"if", "then", *_NOTES}:
        return None
    condition, then = member.get("if"), member.get("then")
    if (
        not isinstance(condition, dict)
        or not isinstance(then, dict)
        or set(condition) - {"properties", "required"}
    ):
        return None
    properties = condition.get("properties")
    if not isinstance(properties, dict) or len(properties) != 1:
        return None
    ((name, test),) = properties.items()
    if not isinstance(test, dict) or set(test) != {"const"}:
        return None
    if "$ref" in then or not isinstance(then.get("properties", {}), dict):
        return None
    return name, test["const"], then


def _both(first: Any, second: Any) -> Any:
    """A property's schema where two parts describe it: the one that says something, else both."""
    if first == second or _blank(second):
        return first
    return second if _blank(first) else {"allOf": [first, second]}


def _blank(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and all(key in _NOTES for key in schema))


def _mergeable(part: dict[str, Any]) -> bool:
    """Whether ``part`` can sit beside others in one object: it is about objects and decides only
    about the properties it lists."""
    if "$id" in part or _types(part) is False:
        return False
    if any(part.get(key) not in (None, True, {}) for key in _OPEN_ENDED):
        return False
    properties, required = part.get("properties"), part.get("required")
    return (properties is None or isinstance(properties, dict)) and (
        required is None or isinstance(required, list)
    )


def _about_objects(part: dict[str, Any]) -> bool:
    """Whether ``part`` names the object type or lists properties (so the merged value is an object)."""
    return bool(_types(part)) or "properties" in part or "required" in part


def _types(part: dict[str, Any]) -> bool | None:
    """Whether ``part`` lets a value be an object: True when it names ``object``, None when it names
    no type, False when it names only others."""
    kind = part.get("type")
    if kind is None:
        return None
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    return "object" in kinds


def _escaped(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
