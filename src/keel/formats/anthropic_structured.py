"""Anthropic's native structured output: ``output_config.format`` (and the beta ``output_format``).

Claude models from 4.5 on (and Opus 4.1) constrain their answer to a JSON schema themselves; the answer
is then a text block holding the JSON. Older models get the forced tool instead
(``anthropic_tools.json_output_tool``). Keel asks natively only for a schema marked ``strict: true``:
its caller vouches that it keeps the strict-mode rules (every object closed, no unsupported keyword),
which both OpenAI and Anthropic enforce; any other schema goes through the forced tool, which takes
any object schema.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["native_format", "native_schema", "supports_native_structured_output"]

# claude-<family>-<major>[-<minor>][-<date>], e.g. claude-sonnet-4-5-20250929, claude-opus-4-1
_NAMED = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2}))?(?:\b|-|$)")


def supports_native_structured_output(model: str) -> bool:
    """Whether the Claude ``model`` takes ``output_config.format`` (4.5 and later, and Opus 4.1)."""
    found = _NAMED.search(model)
    if found is None:
        return False  # claude-3-5-sonnet-..., an alias Keel cannot read: the forced tool always works
    major, minor = int(found[1]), int(found[2] or 0)
    if major != 4:
        return major > 4
    return minor >= 5 or (minor == 1 and "opus" in model)


def native_format(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """``output_config.format`` for an OpenAI ``response_format``, when it is a strict JSON schema."""
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or spec.get("strict") is not True:
        return None
    schema = spec.get("schema")
    return {"type": "json_schema", "schema": schema} if isinstance(schema, dict) else None


def native_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema an Anthropic Messages body asks for natively (GA ``output_config.format``, or
    the beta's ``output_format``), if any."""
    config = body.get("output_config")
    chosen = config.get("format") if isinstance(config, dict) else None
    if chosen is None:
        chosen = body.get("output_format")
    if not isinstance(chosen, dict) or chosen.get("type") != "json_schema":
        return None
    schema = chosen.get("schema")
    return schema if isinstance(schema, dict) else None
