"""How a route is asked for a JSON-schema answer: as sent, bounded for a grammar, or in JSON mode.

A route with ``supports_json_schema`` gets ``response_format: json_schema`` as sent (OpenAI's strict
mode, a self-hosted server's guided decoding; Anthropic's routes turn it into a forced tool). One
without it gets JSON mode (``json_object``) and the schema in a system message, so the answer is
still JSON and the validate policy checks its shape.

A route that compiles the schema into a grammar (``schema_grammar``: llama.cpp) gets a bounded copy
(``bounded_schema``), so a small model cannot ramble in a free string until ``max_tokens`` cuts it.
A schema such a route cannot compile (llama.cpp answers 400) is asked for in JSON mode instead — or,
on the in-process llama.cpp, with the schema stated and a weaker grammar (``fallback_grammar``) —
and ``SchemaGrammars`` remembers it, so later calls with it do not pay the refused request again. The
in-process llama.cpp (``compact_grammar``) is sent the bounded schema as a grammar without free
whitespace when it compiles (``structured.compact_grammar``): half the tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from ..types import Message
from .bounded_schema import bounded
from .compact_grammar import compact_grammar, fallback_grammar

if TYPE_CHECKING:
    from ..errors import UpstreamError
    from ..route import Route
    from ..types import ChatRequest

__all__ = ["SchemaGrammars", "instruction_room", "needs_json_mode", "with_json_mode"]

# llama.cpp: "Unable to generate parser for this template. Automatic parser generation failed:
# JSON schema error at #/properties/a: unsupported $ref ..." (older builds: "failed to parse grammar").
_GRAMMAR_REFUSED = re.compile(r"json schema|grammar|parser generation", re.IGNORECASE)


def needs_json_mode(route: Route, request: ChatRequest) -> bool:
    """Whether ``request`` asks for a JSON schema that ``route`` cannot be given."""
    return _schema_of(request) is not None and not route.capabilities.supports_json_schema


def with_json_mode(request: ChatRequest, *, fit: int | None = None) -> ChatRequest:
    """``request`` in JSON mode, its schema stated in a system message at the start.

    ``fit``: for a model with a small context, the schema is stated without its annotations
    (descriptions, examples, …) and, if still longer than ``fit`` characters, cut to the depth that
    fits (deeper parts become ``{}``); the answer is still checked against the whole schema.
    """
    schema = _schema_of(request)
    if fit is not None and schema is not None:
        schema = _fitted(_without_annotations(schema), fit)
    instruction = Message(
        role="system",
        content="Answer with only a JSON value, without prose or code fences, that matches this JSON "
        f"Schema:\n{orjson.dumps(schema or {}).decode()}",
    )
    return request.model_copy(
        update={
            "messages": [instruction, *request.messages],
            "response_format": {"type": "json_object"},
            "native": None,
            "native_format": None,
        }
    )


class SchemaGrammars:
    """Which schemas each grammar route could not compile (the most recent ``size``), and the request
    each route is sent for a JSON-schema call."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._refused: OrderedDict[tuple[str, str], None] = OrderedDict()

    def prepare(self, route: Route, request: ChatRequest, *, tight: bool = False) -> ChatRequest:
        """The request ``route`` is sent: JSON mode where it cannot take the schema, a bounded
        schema where it compiles one into a grammar, else ``request`` itself. ``tight`` (a re-ask):
        tighter bounds — the answer before was invalid, most often cut at ``max_tokens``."""
        schema = _schema_of(request)
        if schema is None:
            return request
        if not route.capabilities.supports_json_schema:
            return with_json_mode(request)
        if not route.capabilities.schema_grammar:
            return request
        key = (route.name, _digest(schema))
        if key in self._refused:
            self._refused.move_to_end(key)
            return self._weaker(route, request, schema)
        spec = (request.response_format or {}).get("json_schema")
        if not isinstance(spec, dict):
            return request
        spec = {**spec, "schema": bounded(schema, **_TIGHT) if tight else bounded(schema)}
        if route.capabilities.compact_grammar and (grammar := compact_grammar(spec["schema"])):
            return request.model_copy(
                update={"response_format": None, "grammar": grammar, "native": None, "native_format": None}
            )
        return request.model_copy(
            update={
                "response_format": {"type": "json_schema", "json_schema": spec},
                "native": None,
                "native_format": None,
            }
        )

    @staticmethod
    def _weaker(route: Route, request: ChatRequest, schema: dict[str, Any]) -> ChatRequest:
        """For a schema ``route`` refused: the schema in a system message, and, where the route takes
        an llguidance grammar, a weaker one (``fallback_grammar``) instead of JSON mode — in which
        the 135M model answers with the schema itself."""
        stated = with_json_mode(request, fit=instruction_room(route))
        if route.capabilities.compact_grammar and (grammar := fallback_grammar(bounded(schema))):
            return stated.model_copy(update={"response_format": None, "grammar": grammar})
        return stated

    def refused(self, route: Route, request: ChatRequest, error: UpstreamError) -> bool:
        """Whether ``error`` is ``route`` refusing to compile the schema of ``request`` (the one
        before ``prepare``); if so it is remembered, and ``prepare`` gives the weaker form (JSON
        mode, or a weaker grammar) from now on."""
        from ..errors import InvalidRequestError

        schema = _schema_of(request)
        if (
            schema is None
            or not route.capabilities.schema_grammar
            or not isinstance(error, InvalidRequestError)
            or not _GRAMMAR_REFUSED.search(error.message)
        ):
            return False
        self._refused[(route.name, _digest(schema))] = None
        while len(self._refused) > self.size:
            self._refused.popitem(last=False)
        return True


def instruction_room(route: Route) -> int:
    """Characters a JSON-mode instruction may give a schema on a grammar route: about half its
    context (JSON runs two to three characters a token)."""
    return route.capabilities.context_window or 8192


def _fitted(schema: Any, limit: int) -> Any:
    """``schema`` if its JSON has at most ``limit`` characters, else its deepest outline that does."""
    for depth in range(8, 0, -1):
        if len(orjson.dumps(schema)) <= limit:
            return schema
        schema = _outline(schema, depth)
    return schema


def _outline(node: Any, depth: int) -> Any:
    """``node`` with the subschemas deeper than ``depth`` levels replaced by ``{}``."""
    if isinstance(node, list):
        return [_outline(item, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if depth <= 0:
        return {}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _outline(sub, depth - 1) for name, sub in value.items()}
        elif key in ("enum", "const", "default", "required"):
            out[key] = value
        else:
            out[key] = _outline(value, depth - 1)
    return out


# A re-ask's bounds: short strings, one item a list, no optional property.
_TIGHT = {"string_length": 16, "array_items": 1, "optional_properties": 0}


def _schema_of(request: ChatRequest) -> dict[str, Any] | None:
    """The schema of a ``json_schema`` response format, or None."""
    response_format = request.response_format or {}
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else {}


# Keywords that explain a schema to people and editors; validation ignores them.
_ANNOTATIONS = frozenset(
    {
        "description", "markdownDescription", "$comment", "examples", "deprecationMessage",
        "errorMessage", "patternErrorMessage", "enumDescriptions", "markdownEnumDescriptions",
        "defaultSnippets", "doNotSuggest", "deprecated", "readOnly", "writeOnly",
    }
)  # fmt: skip


def _without_annotations(schema: Any) -> Any:
    """``schema`` without annotation keywords (in schema positions; a property named ``description``
    stays) and without vendor ``x-`` keywords: a large schema's text is mostly these."""
    if isinstance(schema, list):
        return [_without_annotations(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            named = value if isinstance(value, dict) else {}
            out[key] = {name: _without_annotations(sub) for name, sub in named.items()} or value
        elif key in ("enum", "const", "default", "required"):
            out[key] = value
        else:
            out[key] = _without_annotations(value)
    return out


def _digest(schema: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()
