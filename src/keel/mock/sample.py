"""A small, deterministic example value for a JSON Schema (tool arguments, structured output)."""

from __future__ import annotations

from typing import Any

__all__ = ["sample"]

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 8


def sample(schema: Any, text: str = "token0") -> Any:
    """A value that validates against common schemas (objects, arrays, enums, ``$ref`` to ``$defs``).

    Every property is filled, strings get ``text``; unsupported keywords are ignored.
    """
    root = schema if isinstance(schema, dict) else {}
    try:
        return _value(root, root, text, 0)
    except (TypeError, ValueError):
        return {}  # a schema too odd to sample (a non-numeric bound, say) still gets valid JSON


def _value(schema: Any, root: dict[str, Any], text: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if not isinstance(schema, dict):
        schema = {}  # a boolean schema, or junk: anything goes
    if "$ref" in schema:
        return _value(_resolve(root, schema["$ref"]), root, text, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _value(options[0], root, text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string" if schema else "object"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _value(sub, root, text, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        count = max(1, int(schema.get("minItems", 1)))
        return [_value(items, root, text, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low + 1 if "exclusiveMinimum" in schema else max(low, 0)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    value = _FORMATS.get(schema.get("format", ""), text).ljust(int(schema.get("minLength", 0)), "x")
    return value[: int(schema["maxLength"])] if "maxLength" in schema else value


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    if not ref.startswith("#"):
        return {}
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}
