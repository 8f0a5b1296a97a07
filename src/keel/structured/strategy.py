"""How a route is asked for a JSON-schema answer: as sent, bounded for a grammar, or in JSON mode.

A route with ``supports_json_schema`` gets ``response_format: json_schema`` as sent (OpenAI's strict
mode, a self-hosted server's guided decoding; Anthropic's routes turn it into a forced tool). One
without it gets JSON mode (``json_object``) and the schema in a system message, so the answer is
still JSON and the validate policy checks its shape.

A route that compiles the schema into a grammar (``schema_grammar``: llama.cpp) gets a bounded copy
(``bounded_schema``), so a small model cannot ramble in a free string until ``max_tokens`` cuts it.
A schema such a route cannot compile (llama.cpp answers 400) is asked for in JSON mode instead, and
``SchemaGrammars`` remembers it, so later calls with it do not pay the refused request again.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from ..types import Message
from .bounded_schema import bounded

if TYPE_CHECKING:
    from ..errors import UpstreamError
    from ..route import Route
    from ..types import ChatRequest

__all__ = ["SchemaGrammars", "needs_json_mode", "with_json_mode"]

# llama.cpp: "Unable to generate parser for this template. Automatic parser generation failed:
# JSON schema error at #/properties/a: unsupported $ref ..." (older builds: "failed to parse grammar").
_GRAMMAR_REFUSED = re.compile(r"json schema|grammar|parser generation", re.IGNORECASE)


def needs_json_mode(route: Route, request: ChatRequest) -> bool:
    """Whether ``request`` asks for a JSON schema that ``route`` cannot be given."""
    return _schema_of(request) is not None and not route.capabilities.supports_json_schema


def with_json_mode(request: ChatRequest) -> ChatRequest:
    """``request`` in JSON mode, its schema stated in a system message at the start."""
    schema = _schema_of(request)
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

    def prepare(self, route: Route, request: ChatRequest) -> ChatRequest:
        """The request ``route`` is sent: JSON mode where it cannot take the schema, a bounded
        schema where it compiles one into a grammar, else ``request`` itself."""
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
            return with_json_mode(request)
        spec = (request.response_format or {}).get("json_schema")
        if not isinstance(spec, dict):
            return request
        spec = {**spec, "schema": bounded(schema)}
        return request.model_copy(
            update={
                "response_format": {"type": "json_schema", "json_schema": spec},
                "native": None,
                "native_format": None,
            }
        )

    def refused(self, route: Route, request: ChatRequest, error: UpstreamError) -> bool:
        """Whether ``error`` is ``route`` refusing to compile the schema of ``request`` (the one
        before ``prepare``); if so it is remembered, and ``prepare`` gives JSON mode from now on."""
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


def _schema_of(request: ChatRequest) -> dict[str, Any] | None:
    """The schema of a ``json_schema`` response format, or None."""
    response_format = request.response_format or {}
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return schema if isinstance(schema, dict) else {}


def _digest(schema: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).hexdigest()
