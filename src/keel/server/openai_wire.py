"""OpenAI's wire format at the front door: request bodies read with clear 400s, responses written.

A request is parsed once with orjson and validated into a ``ChatRequest``; the client's own dict
rides along as the request's native form, so an OpenAI-compatible route receives exactly what the
client sent (less Keel's own options). A response from such a route goes back as the bytes it came
in; any other is encoded here with every field OpenAI's schema requires.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import ValidationError

from ..types import ChatRequest, ChatResponse
from .errors import ApiError

__all__ = ["chat_request", "encode_response", "json_object", "where"]

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "none"}


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 saying why it is not one."""
    if not body:
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"the request body must be a JSON object, not {_kind(value)}")
    return value


def chat_request(body: dict[str, Any]) -> tuple[ChatRequest, bool, bool]:
    """The request, whether it streams, and whether the client wants the usage chunk.

    Raises:
        ApiError: 400 naming the first field that is missing or of the wrong type.
    """
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "'model' is required and must be a non-empty string", param="model")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise ApiError(400, "'stream_options' must be an object", param="stream_options")
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as exc:
        # Of a union's alternatives, the deepest complaint says most about what is wrong.
        first = max(exc.errors(include_url=False), key=lambda error: len(error["loc"]))
        field = where(first["loc"])
        raise ApiError(400, f"{field}: {first['msg']}", param=field) from None
    request.native, request.native_format = body, "openai"
    include_usage = bool(stream and options and options.get("include_usage") is True)
    return request, bool(stream), include_usage


def encode_response(response: ChatResponse) -> bytes:
    """The response body: the upstream's own bytes when it spoke OpenAI's format, else encoded."""
    native = response.native
    if native is not None and native.format == "openai":
        return native.data
    body = response.to_openai()
    for choice in body.get("choices", ()):
        choice.setdefault("finish_reason", "stop")
        choice.setdefault("logprobs", None)
        message = choice.setdefault("message", {"role": "assistant"})
        message.setdefault("content", None)
        message.setdefault("refusal", None)
    return orjson.dumps(body)


def where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """A pydantic location as a field path: ``messages[0].content``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _FIELD.fullmatch(part) and part not in _TYPE_TAGS:  # skip union branch labels
            path += f".{part}" if path else part
    return path or "body"


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
