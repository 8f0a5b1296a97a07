"""The component schemas of Keel's OpenAPI document: what the server accepts and guarantees to return.

Request schemas mirror the server's own validation (unknown fields allowed: they go upstream);
response schemas are the parts of OpenAI's (``CreateChatCompletionResponse`` and friends) Keel
guarantees.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMAS", "ref"]

_S = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": _S + name}


# JSON numbers a 64-bit integer holds: the request parser refuses larger ones.
_INT = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_KEEL_FIELD = {
    "type": "object",
    "description": "Keel-only options, removed before the upstream sees the request",
    "properties": {"timeout": {"type": "number", "exclusiveMinimum": 0}},
    "additionalProperties": False,
}

_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string"},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": ref("ContentPart")},
                {"type": "null"},
            ]
        },
        "name": _nullable({"type": "string"}),
        "tool_calls": _nullable({"type": "array", "items": ref("ToolCall")}),
        "tool_call_id": _nullable({"type": "string"}),
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {
            "message": {"type": "string"},
            "type": {"type": "string"},
            "param": _nullable({"type": "string"}),
            "code": _nullable({"type": "string"}),
        },
    },
    "ErrorResponse": {"type": "object", "required": ["error"], "properties": {"error": ref("Error")}},
    "ContentPart": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string"},
            "text": _nullable({"type": "string"}),
            "image_url": _nullable({"type": "object"}),
        },
    },
    "ToolCall": {
        "type": "object",
        "required": ["function"],
        "properties": {
            "id": _nullable({"type": "string"}),
            "type": _nullable({"type": "string"}),
            "index": _nullable(_INT),
            "function": {
                "type": "object",
                "properties": {
                    "name": _nullable({"type": "string"}),
                    "arguments": _nullable({"type": "string"}),
                },
            },
        },
    },
    "ChatMessage": _MESSAGE,
    "CreateChatCompletionRequest": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "minItems": 1, "items": ref("ChatMessage")},
            "stream": _nullable({"type": "boolean"}),
            "stream_options": _nullable(
                {"type": "object", "properties": {"include_usage": {"type": "boolean"}}}
            ),
            "tools": _nullable(
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["function"],
                        "properties": {"type": {"type": "string"}, "function": {"type": "object"}},
                    },
                }
            ),
            "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}]},
            "response_format": _nullable({"type": "object"}),
            "temperature": _nullable({"type": "number"}),
            "top_p": _nullable({"type": "number"}),
            "max_tokens": _nullable(_INT),
            "max_completion_tokens": _nullable(_INT),
            "n": _nullable(_INT),
            "stop": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "null"},
                ]
            },
            "seed": _nullable(_INT),
            "presence_penalty": _nullable({"type": "number"}),
            "frequency_penalty": _nullable({"type": "number"}),
            "user": _nullable({"type": "string"}),
            "keel": _KEEL_FIELD,
        },
    },
    "CompletionUsage": {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {
            "prompt_tokens": {"type": "integer"},
            "completion_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"},
        },
    },
    "CreateChatCompletionResponse": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["chat.completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string", "description": "The model that answered (a fallback's, if one did)"},
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "message", "finish_reason"],
                    "properties": {
                        "index": {"type": "integer"},
                        "finish_reason": _nullable({"type": "string"}),
                        "message": {
                            "type": "object",
                            "required": ["role"],
                            "properties": {
                                "role": {"type": "string"},
                                "content": _nullable({"type": "string"}),
                                "refusal": _nullable({"type": "string"}),
                                "tool_calls": {"type": "array", "items": ref("ToolCall")},
                            },
                        },
                    },
                },
            },
            "usage": ref("CompletionUsage"),
        },
    },
    "CreateEmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "input": {
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "anyOf": [
                                {"type": "string"},
                                {"type": "integer"},
                                {"type": "array", "items": {"type": "integer"}},
                            ]
                        },
                    },
                ]
            },
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1},
            "user": {"type": "string"},
            "keel": _KEEL_FIELD,
        },
    },
    "CreateEmbeddingResponse": {
        "type": "object",
        "required": ["object", "data", "model", "usage"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "model": {"type": "string"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "object", "embedding"],
                    "properties": {
                        "index": {"type": "integer"},
                        "object": {"type": "string", "enum": ["embedding"]},
                        "embedding": {
                            "anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]
                        },
                    },
                },
            },
            "usage": {"type": "object", "required": ["prompt_tokens", "total_tokens"]},
        },
    },
    "Model": {
        "type": "object",
        "required": ["id", "object", "created", "owned_by"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["model"]},
            "created": {"type": "integer"},
            "owned_by": {"type": "string"},
        },
    },
    "ListModelsResponse": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": ref("Model")},
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
    },
}
