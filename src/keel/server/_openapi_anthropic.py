"""``POST /v1/messages`` and ``/v1/messages/count_tokens`` in Keel's OpenAPI document: Anthropic's
request, answer and error shapes.

The request schema mirrors what the server checks (unknown fields allowed: they reach an Anthropic
route unchanged); the answer is the part of Anthropic's ``Message`` Keel guarantees.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COUNT_TOKENS_PATH", "MESSAGES_PATH", "SCHEMAS"]

_S = "#/components/schemas/"
_OBJECTS = {"type": "array", "items": {"type": "object"}}
_TEXT_OR_BLOCKS = {"anyOf": [{"type": "string"}, _OBJECTS]}
_COUNT = {"type": "integer", "minimum": 0}
_KEEL = {
    "type": "object",
    "description": "Keel-only options, removed before the upstream sees the request",
    "properties": {"timeout": {"type": "number", "exclusiveMinimum": 0}},
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "AnthropicMessagesRequest": {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {"role": {"enum": ["user", "assistant"]}, "content": _TEXT_OR_BLOCKS},
                },
            },
            "system": _TEXT_OR_BLOCKS,
            "tools": _OBJECTS,
            "tool_choice": {"type": "object"},
            "thinking": {"type": "object"},
            "metadata": {"type": "object"},
            "stream": {"type": "boolean"},
            "keel": _KEEL,
        },
    },
    "AnthropicCountTokensRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            "system": _TEXT_OR_BLOCKS,
            "tools": _OBJECTS,
            "tool_choice": {"type": "object"},
            "thinking": {"type": "object"},
            "keel": _KEEL,
        },
    },
    "AnthropicTokenCount": {
        "type": "object",
        "required": ["input_tokens"],
        "properties": {"input_tokens": _COUNT},
    },
    "AnthropicMessage": {
        "type": "object",
        "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "model": {"type": "string"},
            "content": {
                "type": "array",
                "items": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
            },
            "stop_reason": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "stop_sequence": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "usage": {
                "type": "object",
                "required": ["input_tokens", "output_tokens"],
                "properties": {
                    "input_tokens": _COUNT,
                    "output_tokens": _COUNT,
                    "cache_read_input_tokens": {"anyOf": [_COUNT, {"type": "null"}]},
                    "cache_creation_input_tokens": {"anyOf": [_COUNT, {"type": "null"}]},
                },
            },
        },
    },
    "AnthropicErrorResponse": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": _S + "AnthropicErrorResponse"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


MESSAGES_PATH: dict[str, Any] = {
    "post": {
        "summary": "Anthropic Messages, streamed (SSE events) when stream is true; any route answers",
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "parameters": [
            _header("anthropic-version", "Accepted as the SDK sends it; Keel speaks 2023-06-01 upstream"),
            _header("anthropic-beta", "Beta features, passed on to Anthropic routes"),
            _header(
                "x-request-id", "Kept when it is 1-128 characters of [A-Za-z0-9._:-]; else Keel makes one"
            ),
            _header(
                "x-keel-timeout", "The call's total deadline in seconds (at most the server's timeouts.total)"
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _S + "AnthropicMessagesRequest"}}},
        },
        "responses": {
            "200": {
                "description": "The message, or its stream of events",
                "content": {
                    "application/json": {"schema": {"$ref": _S + "AnthropicMessage"}},
                    "text/event-stream": {
                        "schema": {"type": "string", "description": "event: <type> / data: {event} frames"}
                    },
                },
            },
            "400": _error(
                "invalid_request_error: a malformed body (the message names the field), an upstream 400"
            ),
            "401": _error("authentication_error: no valid key (when the server has a master key)"),
            "403": _error("permission_error: the key may not use this model"),
            "404": _error("not_found_error: unknown model"),
            "405": _error("invalid_request_error: wrong method"),
            "413": _error("request_too_large: the body is larger than the server's limit"),
            "429": _error(
                "rate_limit_error: rate limited after Keel's retries, or by Keel's own limits;"
                " budget_exceeded (also x-keel-error-code): a budget cannot cover the call; see retry-after"
            ),
            "500": _error("api_error: every route failed, or an internal error in Keel"),
            "504": _error("timeout_error: the call's deadline ran out"),
            "529": _error("overloaded_error: upstreams overloaded, or no route available"),
        },
    }
}

COUNT_TOKENS_PATH: dict[str, Any] = {
    "post": {
        "summary": "Anthropic's token count for a Messages body, from the first Claude route of the model",
        "security": [{"apiKey": []}, {"bearer": []}, {}],
        "parameters": MESSAGES_PATH["post"]["parameters"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _S + "AnthropicCountTokensRequest"}}},
        },
        "responses": {
            "200": {
                "description": "The Claude route's own count, as it sent it",
                "content": {"application/json": {"schema": {"$ref": _S + "AnthropicTokenCount"}}},
            },
            "400": _error(
                "invalid_request_error: a malformed body, an upstream 400, or a model without a Claude route"
            ),
            "401": _error("authentication_error: no valid key (when the server has a master key)"),
            "403": _error("permission_error: the key may not use this model"),
            "404": _error("not_found_error: unknown model"),
            "405": _error("invalid_request_error: wrong method"),
            "413": _error("request_too_large: the body is larger than the server's limit"),
            "429": _error("rate_limit_error: every Claude route was rate limited; see retry-after"),
            "500": _error("api_error: every Claude route failed"),
            "504": _error("timeout_error: the deadline ran out"),
            "529": _error("overloaded_error: every Claude route was overloaded"),
        },
    }
}
