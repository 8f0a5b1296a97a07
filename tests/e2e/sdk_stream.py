"""What a streaming client of ``keel serve`` received, and what Keel said about it afterwards.

``openai_stream`` reads a stream with the official SDK (``include_usage`` on) and keeps the raw bytes
beside the SDK's chunks, so a test can see the ``[DONE]`` the SDK swallows; ``access_line`` waits for
the request's ``keel.access`` line; ``ledger_rows`` reads the server's SQLite ledger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from keel.stores.sqlite_ledger import SQLiteLedger

__all__ = ["Received", "access_line", "ledger_rows", "openai_stream"]


@dataclass
class Received:
    """A stream as the client got it: the SDK's chunks, the raw body and the response headers."""

    chunks: list[ChatCompletionChunk]
    raw: bytes
    headers: httpx.Headers

    @property
    def text(self) -> str:
        return "".join(c.choices[0].delta.content or "" for c in self.chunks if c.choices)

    @property
    def finishes(self) -> list[str]:
        return [choice.finish_reason for c in self.chunks for choice in c.choices if choice.finish_reason]

    @property
    def usages(self) -> list[Any]:
        return [c.usage for c in self.chunks if c.usage is not None]


class _Tee(httpx.SyncByteStream):
    """A response body read through, copied into ``sink`` on the way."""

    def __init__(self, stream: Any, sink: bytearray) -> None:
        self._stream, self._sink = stream, sink

    def __iter__(self) -> Iterator[bytes]:
        for part in self._stream:
            self._sink += part
            yield part

    def close(self) -> None:
        self._stream.close()


def openai_stream(v1: str, model: str, request_id: str, **params: Any) -> Received:
    """One ``stream=True`` chat completion with ``stream_options.include_usage``, by the openai SDK."""
    raw = bytearray()

    def tee(response: httpx.Response) -> None:
        response.stream = _Tee(response.stream, raw)

    with (
        httpx.Client(event_hooks={"response": [tee]}, timeout=10) as http,
        openai.OpenAI(base_url=v1, api_key="any", http_client=http, max_retries=0) as sdk,
    ):
        response = sdk.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-request-id": request_id},
            **params,
        )
        chunks = list(response.parse())
    return Received(chunks, bytes(raw), response.headers)


def access_line(caplog: pytest.LogCaptureFixture, request_id: str, within: float = 2.0) -> str:
    """The one ``keel.access`` line of ``request_id`` (written just after the stream's last frame)."""
    deadline = time.monotonic() + within
    while True:
        lines = [
            record.getMessage()
            for record in list(caplog.records)
            if record.name == "keel.access" and f"request_id='{request_id}'" in record.getMessage()
        ]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.01)


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    """Every record of the SQLite ledger at ``path``, newest first."""

    async def read() -> list[dict[str, Any]]:
        ledger = SQLiteLedger(path)
        try:
            return await ledger.rows()
        finally:
            await ledger.close()

    return asyncio.run(read())
