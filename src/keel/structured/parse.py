"""Find the JSON in a model's answer: as written, inside a Markdown fence or prose, or repaired.

Repair is ``json-repair``'s (trailing commas, single quotes, unquoted keys, an unclosed bracket); an
answer it can only turn into nothing (or a bare string, from prose without any JSON) is no JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Extracted", "NotJSONError", "extract_json"]

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)\n?[ \t]*```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Extracted:
    """The JSON value found, and whether it took more than parsing the answer as it is."""

    value: Any
    repaired: bool


class NotJSONError(ValueError):
    """The answer holds no JSON value Keel can find or repair."""


def extract_json(text: str) -> Extracted:
    """The JSON value ``text`` holds.

    Raises:
        NotJSONError: there is none.
    """
    try:
        return Extracted(orjson.loads(text), False)
    except orjson.JSONDecodeError:
        pass
    for candidate in _candidates(text):
        try:
            return Extracted(orjson.loads(candidate), True)
        except orjson.JSONDecodeError:
            continue
    from json_repair import loads as repair

    value = repair(text, skip_json_loads=True)
    # An empty object or array stands for one only when the answer had brackets, not for prose.
    if isinstance(value, dict | list) and (value or "{" in text or "[" in text):
        return Extracted(value, True)
    raise NotJSONError("the answer is not JSON and holds no JSON object or array to repair")


def _candidates(text: str) -> list[str]:
    """The answer's fenced blocks, then the span from its first ``{`` or ``[`` to the last ``}`` or ``]``."""
    found = [match.group(1).strip() for match in _FENCE.finditer(text)]
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    end = max(text.rfind("}"), text.rfind("]"))
    if starts and end > min(starts):
        found.append(text[min(starts) : end + 1])
    return found
