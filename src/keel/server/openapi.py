"""The OpenAPI 3.1 document of ``keel serve``, served at ``GET /openapi.json``.

It describes what the server accepts and answers, for clients and for schema-driven fuzzing; every
error status carries the error shape of its API (OpenAI's, or Anthropic's on ``/v1/messages``). The
component schemas live in ``_openapi_schemas`` and ``_openapi_anthropic``.
"""

from __future__ import annotations

from typing import Any

import orjson

from . import _openapi_anthropic as anthropic
from ._openapi_admin import ADMIN_PATHS, ADMIN_SCHEMAS
from ._openapi_prompts import PROMPT_SCHEMAS
from ._openapi_schemas import SCHEMAS, ref
from .context import ApiContext
from .exchange import Exchange

__all__ = ["DOCUMENT", "openapi_json"]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref("ErrorResponse")}}}


_KEEL_HEADERS = {
    "x-request-id": {
        "description": "The client's x-request-id, or one Keel made",
        "schema": {"type": "string"},
    },
    "x-keel-overhead-ms": {
        "description": "Keel's own time in ms: before the first upstream attempt and after the answer",
        "schema": {"type": "string"},
    },
    "x-keel-route": {"description": "The route (provider/model) that answered", "schema": {"type": "string"}},
    "x-keel-prompt": {
        "description": "With a named prompt: the version that served it, name@version",
        "schema": {"type": "string"},
    },
    "x-keel-feature": {
        "description": "With a feature named: the flag's variant the call got, feature=variant",
        "schema": {"type": "string"},
    },
    "x-keel-attempts": {"description": "Upstream attempts made", "schema": {"type": "string"}},
    "x-keel-upstream-request-id": {
        "description": "The upstream's own request id",
        "schema": {"type": "string"},
    },
    "x-keel-budget-remaining": {
        "description": "USD left in the tightest budget that applies, when one does",
        "schema": {"type": "string"},
    },
    "x-keel-cache": {
        "description": "hit, miss or refresh when the call was cacheable; absent otherwise",
        "schema": {"type": "string", "enum": ["hit", "miss", "refresh"]},
    },
    "x-keel-cache-age": {
        "description": "On a hit: the entry's age in whole seconds",
        "schema": {"type": "string"},
    },
    "x-keel-cache-kind": {
        "description": "On a hit for a near-duplicate prompt: semantic",
        "schema": {"type": "string", "enum": ["semantic"]},
    },
    "x-keel-cache-similarity": {
        "description": "On a semantic hit: the prompts' cosine similarity",
        "schema": {"type": "string"},
    },
    "x-keel-coalesced": {
        "description": "true when the call shared another caller's identical in-flight upstream call",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "x-keel-tools-dropped": {
        "description": "true when the answering route cannot call tools, so it got the request without them",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

_ERRORS = {
    "400": _error(
        "Malformed JSON, or a body of the wrong shape (the message names the field); or a refusal of"
        " Keel's own, such as a forced tool call no route can make (code and x-keel-error-code say which)"
    ),
    "401": _error("No valid key (when the server has a master key)"),
    "403": _error("The key may not use this model"),
    "404": _error("Unknown model"),
    "405": _error("Wrong method for this endpoint"),
    "413": _error("The body is larger than the server's limit"),
    "429": _error("Rate limited (upstream after Keel's retries, or Keel's own limits); see Retry-After"),
    "500": _error("An internal error in Keel (a bug; the log has the details)"),
    "502": _error("Every route failed (upstream errors, malformed answers)"),
    "503": _error("No route available (circuits open, routes cooling down, not installed)"),
    "504": _error("The call's deadline ran out"),
}

_REQUEST_HEADERS = [
    {
        "name": "x-request-id",
        "in": "header",
        "required": False,
        "description": "Kept when it is 1-128 characters of [A-Za-z0-9._:-]; else Keel makes one",
        "schema": {"type": "string"},
    },
    {
        "name": "x-keel-timeout",
        "in": "header",
        "required": False,
        "description": "The call's total deadline in seconds (at most the server's timeouts.total)",
        "schema": {"type": "number", "exclusiveMinimum": 0},
    },
]


_CACHE_HEADERS = [
    {
        "name": "x-keel-cache",
        "in": "header",
        "required": False,
        "description": "true caches a call that is not deterministic; false keeps one out of the cache",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
    {
        "name": "x-keel-cache-ttl",
        "in": "header",
        "required": False,
        "description": "Seconds the answer may be kept in the cache",
        "schema": {"type": "integer", "minimum": 1},
    },
    {
        "name": "cache-control",
        "in": "header",
        "required": False,
        "description": "no-cache: a fresh answer (then stored); no-store: the call stays out of the cache",
        "schema": {"type": "string"},
    },
]


def _json(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _KEEL_HEADERS,
        "content": {"application/json": {"schema": ref(schema)}, **extra},
    }


def _api(summary: str, body: str | None, ok: dict[str, Any], errors: tuple[str, ...]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}, {}],
        # x-keel-timeout bounds a call: only the endpoints that make one take it.
        "parameters": _REQUEST_HEADERS if body is not None else _REQUEST_HEADERS[:1],
        "responses": {"200": ok, **{code: _ERRORS[code] for code in errors}},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    return operation


def _with_parameters(operation: dict[str, Any], extra: list[dict[str, Any]]) -> dict[str, Any]:
    return {**operation, "parameters": [*operation["parameters"], *extra]}


def _counting(operation: dict[str, Any]) -> dict[str, Any]:
    """Token counting: the cache's request headers in, Keel's headers on the count."""
    responses = operation["responses"]
    return {
        **_with_parameters(operation, _CACHE_HEADERS),
        "responses": {**responses, "200": {**responses["200"], "headers": _KEEL_HEADERS}},
    }


_ALL = tuple(_ERRORS)
_READ = ("401", "404", "405")
_SSE = {
    "text/event-stream": {
        "schema": {"type": "string", "description": "data: {chunk} events, then data: [DONE]"}
    }
}
_STATUS = {"description": "Status", "content": {"application/json": {"schema": ref("Status")}}}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Keel",
        "version": "0.1.0",
        "description": "A reliable, OpenAI- and Anthropic-compatible LLM gateway.",
    },
    "paths": {
        "/v1/chat/completions": {
            "post": _with_parameters(
                _api(
                    "Chat completion, streamed (SSE) when stream is true",
                    "CreateChatCompletionRequest",
                    _json("CreateChatCompletionResponse", "The completion, or its stream", **_SSE),
                    _ALL,
                ),
                _CACHE_HEADERS,
            )
        },
        "/v1/prompts/{name}/completions": {
            "post": {
                **_api(
                    "A named prompt's completion (name, name@3 or name@label), streamed when stream is true",
                    "PromptCompletionRequest",
                    _json("CreateChatCompletionResponse", "The completion, or its stream", **_SSE),
                    _ALL,
                ),
                "parameters": [
                    *_REQUEST_HEADERS,
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
            }
        },
        "/v1/feedback": {
            "post": {
                **_api(
                    "A score of an answer, by its request id",
                    "FeedbackRequest",
                    {},
                    ("400", "401", "405", "503"),
                ),
                "responses": {
                    "201": {
                        "description": "Recorded",
                        "content": {"application/json": {"schema": ref("FeedbackResponse")}},
                    },
                    **{code: _ERRORS[code] for code in ("400", "401", "405", "503")},
                },
            }
        },
        "/v1/messages": anthropic.MESSAGES_PATH,
        "/v1/messages/count_tokens": {"post": _counting(anthropic.COUNT_TOKENS_PATH["post"])},
        "/v1/embeddings": {
            "post": _api(
                "Embeddings", "CreateEmbeddingRequest", _json("CreateEmbeddingResponse", "Vectors"), _ALL
            )
        },
        "/v1/models": {"get": _api("Configured models", None, _json("ListModelsResponse", "Models"), _READ)},
        "/v1/models/{model}": {
            "get": {
                **_api("One configured model", None, _json("Model", "The model"), _READ),
                "parameters": [
                    _REQUEST_HEADERS[0],
                    {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
            }
        },
        "/healthz": {"get": {"summary": "Alive", "responses": {"200": _STATUS, "405": _ERRORS["405"]}}},
        "/readyz": {
            "get": {
                "summary": "Routes usable and stores reachable",
                "responses": {"200": _STATUS, "405": _ERRORS["405"], "503": _STATUS},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (docs/metrics.md); the master key with metrics.require_key",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _ERRORS["401"],
                    "404": {"description": "metrics are off (metrics.enabled: false)"},
                    "405": _ERRORS["405"],
                },
            }
        },
        **ADMIN_PATHS,
    },
    "components": {
        "schemas": {**SCHEMAS, **anthropic.SCHEMAS, **ADMIN_SCHEMAS, **PROMPT_SCHEMAS},
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        },
    },
}

_BYTES = orjson.dumps(DOCUMENT)


async def openapi_json(ctx: ApiContext, ex: Exchange) -> None:
    """``GET /openapi.json``."""
    await ex.respond(200, _BYTES)
