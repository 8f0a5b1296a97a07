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

__all__ = ["compact_grammar"]


def compact_grammar(schema: dict[str, Any]) -> str | None:
    """The llguidance grammar for ``schema`` with no free whitespace, or None when it does not
    compile, leaves an object open (or the llguidance library is not installed).

    llguidance reads an object that says nothing of other properties as JSON Schema does — open to
    any — where llama.cpp's own converter closes it; a small model offered open objects writes keys
    until ``max_tokens``. So only a schema whose every object says (the bounded copy closes those it
    safely can) is sent this way."""
    if not _closed(schema):
        return None
    return _compiled(orjson.dumps(schema))  # in its own order: the model writes the fields so


def _closed(node: Any) -> bool:
    """Whether every object in ``node`` that lists properties says whether it takes others."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            return False
        return all(_closed(child) for child in node.values())
    if isinstance(node, list):
        return all(_closed(child) for child in node)
    return True


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: bytes) -> str | None:
    try:
        from llguidance import LLMatcher
    except ImportError:
        return None
    schema = {**orjson.loads(schema_json), "x-guidance": {"whitespace_flexible": False}}
    grammar = "%llguidance {}\nstart: %json " + orjson.dumps(schema).decode()
    if LLMatcher.validate_grammar(LLMatcher.grammar_from_lark(grammar)):
        return None  # the error text: this schema is asked for through response_format instead
    return grammar
