"""The admin API's part of Keel's OpenAPI document: virtual keys, spend reports and the cache.

Every admin operation needs the master key; with none configured each answers 403
(``admin_disabled``). Errors come in OpenAI's error shape.
"""

from __future__ import annotations

from typing import Any

from ._openapi_schemas import ref

__all__ = ["ADMIN_PATHS", "ADMIN_SCHEMAS"]

_NULLABLE_STRING = {"type": ["string", "null"]}

ADMIN_SCHEMAS: dict[str, Any] = {
    "VirtualKey": {
        "type": "object",
        "description": "A virtual key as listed: never its secret or hash",
        "required": ["id", "name", "key_hint", "created_at", "status", "metadata"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "team": _NULLABLE_STRING,
            "models": {"type": ["array", "null"], "items": {"type": "string"}},
            "key_hint": {"type": "string", "description": "The last characters of the key"},
            "created_at": {"type": "string", "description": "ISO 8601, UTC"},
            "expires_at": _NULLABLE_STRING,
            "revoked_at": _NULLABLE_STRING,
            "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "CreatedVirtualKey": {
        "allOf": [
            ref("VirtualKey"),
            {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": "string", "description": "The secret, shown this once"}},
            },
        ]
    },
    "NewVirtualKey": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "team": _NULLABLE_STRING,
            "models": {"type": ["array", "null"], "items": {"type": "string"}},
            "expires_at": {**_NULLABLE_STRING, "description": "ISO 8601 date or time; UTC unless it says"},
            "expires_in": {
                "type": ["integer", "string", "null"],
                "description": "Seconds, or a duration such as 30d",
            },
            "metadata": {
                "type": ["object", "null"],
                "additionalProperties": {"type": "string"},
                "description": (
                    "Strings; budget_usd, budget_tokens and budget_window give the key its own budget"
                ),
            },
        },
    },
    "VirtualKeyList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("VirtualKey")}},
    },
    "SpendRow": {
        "type": "object",
        "description": "One group of the ledger: the grouping columns asked for, then the sums",
        "required": ["calls"],
        "properties": {
            "calls": {"type": "integer"},
            "tokens": {"type": "integer", "description": "input + output, what a token budget counts"},
            "input_tokens": {"type": ["integer", "null"]},
            "cached_input_tokens": {"type": ["integer", "null"]},
            "cache_write_tokens": {"type": ["integer", "null"]},
            "output_tokens": {"type": ["integer", "null"]},
            "reasoning_tokens": {"type": ["integer", "null"]},
            "cost_usd": {"type": ["string", "number"], "description": "USD, exact decimal"},
        },
        "additionalProperties": True,
    },
    "CallRecord": {
        "type": "object",
        "description": "One call's ledger record, as stored (docs/budgets.md lists the columns)",
        "required": ["request_id", "status", "requested_model"],
        "properties": {
            "request_id": {"type": "string"},
            "status": {"type": "string"},
            "requested_model": {"type": "string"},
            "attempts": {"type": "array", "items": {"type": "object"}},
            "content": {
                "type": ["object", "null"],
                "description": (
                    "capture.content: system, input and output in the GenAI conventions' message "
                    "shapes, PII- and key-redacted, and whether the bound cut them (truncated)"
                ),
            },
        },
        "additionalProperties": True,
    },
    "CallList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": ref("CallRecord")}},
    },
    "CacheStats": {
        "type": "object",
        "required": ["enabled", "process"],
        "properties": {
            "enabled": {"type": "boolean"},
            "process": {"type": "object", "description": "This process's hit, miss and coalesce counts"},
            "backend": {"type": "string"},
            "entries": {"type": "integer"},
            "bytes": {"type": "integer"},
        },
    },
    "CacheCleared": {
        "type": "object",
        "required": ["deleted"],
        "properties": {"deleted": {"type": "integer"}},
    },
}


def _answer(schema: str, description: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": ref(schema)}}}}


def _refusals(*statuses: str) -> dict[str, Any]:
    text = {
        "400": "Bad input; the message names the field or parameter",
        "401": "No master key presented",
        "403": "The admin API is off: no master key is configured (admin_disabled)",
        "404": "No such key",
        "405": "Wrong method",
    }
    error = {"application/json": {"schema": ref("ErrorResponse")}}
    return {status: {"description": text[status], "content": error} for status in statuses}


def _admin(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    operation = {"summary": summary, "tags": ["admin"], "security": [{"bearer": []}], "responses": responses}
    return {**operation, **extra}


_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WINDOW = {"type": "string", "description": "7d, 24h, 2w, 1m, or a date like 2026-11-01"}

ADMIN_PATHS: dict[str, Any] = {
    "/admin/keys": {
        "post": _admin(
            "Create a virtual key (its secret is in this answer only)",
            {**_answer("CreatedVirtualKey", "The new key", "201"), **_refusals("400", "401", "403")},
            requestBody={"required": True, "content": {"application/json": {"schema": ref("NewVirtualKey")}}},
        ),
        "get": _admin(
            "List virtual keys",
            {**_answer("VirtualKeyList", "The keys"), **_refusals("400", "401", "403")},
            parameters=[
                {"name": "team", "in": "query", "required": False, "schema": {"type": "string"}},
                {
                    "name": "include_revoked",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
            ],
        ),
    },
    "/admin/keys/{key_id}": {
        "get": _admin(
            "One virtual key",
            {**_answer("VirtualKey", "The key"), **_refusals("401", "403", "404")},
            parameters=[_KEY_ID],
        ),
        "delete": _admin(
            "Revoke a virtual key",
            {**_answer("VirtualKey", "The key, revoked"), **_refusals("401", "403", "404")},
            parameters=[_KEY_ID],
        ),
    },
    "/admin/usage": {
        "get": _admin(
            "Spend and tokens from the ledger, grouped (as keel usage reports them)",
            {
                "200": {
                    "description": "One row per group",
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": ref("SpendRow")}},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_refusals("400", "401", "403"),
            },
            parameters=[
                {
                    "name": "by",
                    "in": "query",
                    "required": False,
                    "description": (
                        "Comma list of key, team, user, model, route, hour, day, month (default model)"
                    ),
                    "schema": {"type": "string"},
                },
                {"name": "since", "in": "query", "required": False, "schema": _WINDOW},
                {"name": "until", "in": "query", "required": False, "schema": _WINDOW},
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["json", "csv"]},
                },
            ],
        ),
    },
    "/admin/calls": {
        "get": _admin(
            "The newest calls' ledger records, with their redacted content when capture.content is on",
            {**_answer("CallList", "The records, newest first"), **_refusals("400", "401", "403")},
            parameters=[
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                },
                {
                    "name": "request_id",
                    "in": "query",
                    "required": False,
                    "description": "Only the records of this request (its x-request-id)",
                    "schema": {"type": "string"},
                },
            ],
        ),
    },
    "/admin/cache": {
        "get": _admin("Cache statistics", {**_answer("CacheStats", "Statistics"), **_refusals("401", "403")}),
        "delete": _admin(
            "Empty the response cache",
            {**_answer("CacheCleared", "Entries deleted"), **_refusals("401", "403")},
        ),
    },
}
