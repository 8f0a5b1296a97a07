"""A cached answer as bytes: the response in OpenAI's shape and when it was stored, compressed when large."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import orjson

from ..types import ChatResponse, Usage

__all__ = ["CachedAnswer", "cacheable", "decode_entry", "encode_entry"]

_PLAIN, _ZLIB = b"j", b"z"
COMPRESS_FROM = 1024


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    response: ChatResponse
    stored_at: float

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.stored_at)


def cacheable(response: ChatResponse) -> bool:
    """A whole answer: at least one choice, and every choice finished (not cut, not filtered)."""
    return bool(response.choices) and all(
        choice.finish_reason is not None and choice.finish_reason != "content_filter"
        for choice in response.choices
    )


def encode_entry(response: ChatResponse, now: float | None = None) -> bytes:
    body = orjson.dumps({"stored_at": time.time() if now is None else now, "response": response.to_openai()})
    if len(body) >= COMPRESS_FROM:
        return _ZLIB + zlib.compress(body, 1)
    return _PLAIN + body


def decode_entry(data: bytes) -> CachedAnswer:
    """The answer in ``data``.

    Raises:
        ValueError: the entry is corrupt or of an unknown format.
    """
    kind, payload = data[:1], data[1:]
    try:
        if kind == _ZLIB:
            payload = zlib.decompress(payload)
        elif kind != _PLAIN:
            raise ValueError(f"unknown cache entry format {kind!r}")
        value = orjson.loads(payload)
        body = dict(value["response"])
        usage = Usage.from_openai(body.pop("usage", None))
        response = ChatResponse.model_validate(body)
        response.usage = usage
        return CachedAnswer(response, float(value["stored_at"]))
    except ValueError:
        raise
    except Exception as error:  # zlib.error, KeyError, pydantic's ValidationError (a ValueError)
        raise ValueError(f"corrupt cache entry: {type(error).__name__}") from None
