"""OpenAPI schemas of the named-prompt endpoints: ``/v1/prompts/{name}/completions`` and ``/v1/feedback``."""

from __future__ import annotations

from typing import Any

__all__ = ["PROMPT_SCHEMAS"]

_VARIABLES = {
    "type": "object",
    "description": "the template's variables by name: text or numbers",
    "additionalProperties": {"type": ["string", "number"]},
}

PROMPT_SCHEMAS: dict[str, Any] = {
    "PromptCompletionRequest": {
        "type": "object",
        "description": "Portkey's shape: the variables beside the usual Chat Completions fields; "
        "model and parameters the version sets are overrides it must allow (docs/prompts.md)",
        "properties": {
            "variables": _VARIABLES,
            "label": {"type": "string", "description": "default prompts.default_label; latest: the highest"},
            "version": {"type": "integer", "minimum": 1},
            "messages": {
                "type": "array",
                "items": {"type": "object"},
                "description": "after the rendered ones",
            },
            "model": {"type": "string"},
            "stream": {"type": ["boolean", "null"]},
            "user": {"type": ["string", "null"], "description": "also the caller an A/B split sticks to"},
        },
    },
    "FeedbackRequest": {
        "type": "object",
        "required": ["request_id", "score"],
        "additionalProperties": False,
        "properties": {
            "request_id": {"type": "string", "minLength": 1, "description": "the answer's x-request-id"},
            "score": {"type": "number"},
            "comment": {"type": ["string", "null"], "maxLength": 4000},
        },
    },
    "FeedbackResponse": {
        "type": "object",
        "required": ["request_id", "score", "recorded"],
        "properties": {
            "request_id": {"type": "string"},
            "score": {"type": "number"},
            "recorded": {"type": "boolean"},
        },
    },
}
