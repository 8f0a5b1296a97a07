"""Bounds for a grammar's strings and numbers: patterns with bounded repeats that llama.cpp's
converter reads, and a number between two bounds as the whole numbers between them. Each accepts
only values the original accepts (``bounded_schema``)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["bounded_pattern", "integer_range", "whole_range"]


# Escapes llama.cpp's pattern converter does not take, as the ASCII classes they include.
_CLASSES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \\t\\n\\r"}


def bounded_pattern(pattern: str, most: int) -> str | None:
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


def whole_range(schema: dict[str, Any], largest: int) -> dict[str, Any]:
    """``type: integer`` with the whole numbers inside a number's bounds (``±largest`` where it has
    none), or nothing to change (a ``multipleOf``, a draft-4 flag for a bound, or no whole number in
    the range)."""
    if "multipleOf" in schema or _flagged(schema):
        return {}
    low = _bound(schema, "minimum", "exclusiveMinimum") or (-largest, False)
    high = _bound(schema, "maximum", "exclusiveMaximum") or (largest, False)
    first = math.floor(low[0]) + 1 if low[1] else math.ceil(low[0])
    last = math.ceil(high[0]) - 1 if high[1] else math.floor(high[0])
    if first > last:
        return {}
    return {"type": "integer", "minimum": first, "maximum": last}


def integer_range(schema: dict[str, Any], largest: int) -> dict[str, Any]:
    """The bounds an integer leaves out, as ``±largest``: a grammar for an unbounded integer lets a
    small model write digits until it is cut (llama.cpp's converter stops at 16, llguidance never)."""
    if _flagged(schema):
        return {}
    low, high = _bound(schema, "minimum", "exclusiveMinimum"), _bound(schema, "maximum", "exclusiveMaximum")
    out: dict[str, Any] = {}
    if low is None and (high is None or high[0] >= -largest):
        out["minimum"] = -largest
    if high is None and (low is None or low[0] <= largest):
        out["maximum"] = largest
    return out


def _flagged(schema: dict[str, Any]) -> bool:
    """Draft 4: ``exclusiveMinimum``/``exclusiveMaximum`` are flags on the other bound."""
    return any(isinstance(schema.get(key), bool) for key in ("exclusiveMinimum", "exclusiveMaximum"))


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float, bool] | None:
    """The tighter of a bound's inclusive and exclusive (draft 6+) forms, and whether it is exclusive."""
    found: list[tuple[float, bool]] = []
    for key, strict in ((inclusive, False), (exclusive, True)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            found.append((float(value), strict))
    if not found:
        return None
    if inclusive == "minimum":
        return max(found, key=lambda bound: (bound[0], bound[1]))
    return min(found, key=lambda bound: (bound[0], not bound[1]))
