"""Keel's own CPU per streamed chunk on each stream path, in process, without the network.

    .venv/bin/python bench/stream_path.py [--python A/.venv/bin/python --python B/.venv/bin/python] \
        [--rounds 5] [--streams 40] [--per-read 1,20]

Each path runs in a child process of each ``--python`` given (two checkouts, to compare commits),
in interleaved rounds: Keel's real code from the gateway's entry to the client's side, with the
upstream's HTTP call replaced by a body held in memory, handed over ``--per-read`` events per read
(1: a paced provider, one event per network read; 20: a fast one). Nothing else is faked: policies,
ledger, the light chunk, the relay's framing all run. The figure is the CPU time per chunk:
(CPU of 1,000-token streams - CPU of 1-token streams) / 999, from ``time.process_time``.

- ``openai``: ``POST /v1/chat/completions`` streamed, through the ASGI app, from an OpenAI-format
  upstream (the pass-through path); the client's ``send`` takes each body message at once.
- ``anthropic``: ``POST /v1/messages`` streamed, through the ASGI app, from an Anthropic upstream
  (the native pass-through of Anthropic's events).
- ``library``: ``gw.stream()`` from an OpenAI-format upstream, reading each chunk's ``text``.
- ``library-choices``: the same, reading ``chunk.choices[0].delta.content`` (the validated models,
  built on first use).

``KEEL_BENCH_SYSTEM`` (text) gives every stream a system prompt — on ``/v1/messages`` as its
``system`` field — so that what acts on system text (the canary) is measured too.

What this leaves out — sockets, the event loop's wake-ups, uvicorn's writes — is measured by
``bench/long_stream.py`` against real processes; this one isolates the Python work per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PATHS = ("openai", "anthropic", "library", "library-choices")
TOKENS = (1, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", action="append", help="a Python with keel installed (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=40, help="streams per token count per round")
    parser.add_argument("--per-read", default="1,20", help="events per upstream read, comma list")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument(
        "--figure",
        choices=("chunk", "call"),
        default="chunk",
        help="chunk: µs per relayed chunk; call: µs per 1-token stream (the whole stack, once per call)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        path, per_read = options.child.split(":")
        print(json.dumps(asyncio.run(measure(path, int(per_read), options.streams))))
        return
    pythons = options.python or [sys.executable]
    for per_read in (int(value) for value in options.per_read.split(",")):
        for path in options.paths.split(","):
            rounds: list[list[float]] = []
            for _ in range(options.rounds):
                rounds.append(
                    [child(python, path, per_read, options.streams, options.figure) for python in pythons]
                )
            report(path, per_read, pythons, rounds, options.figure)


def child(python: str, path: str, per_read: int, streams: int, figure: str = "chunk") -> float:
    """µs of CPU per chunk (or per 1-token call) on ``path``, measured in a fresh ``python`` process."""
    args = [python, __file__, "--child", f"{path}:{per_read}", "--streams", str(streams)]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    return float(figures["us_per_chunk"] if figure == "chunk" else figures["ms_short"] * 1000)


def report(path: str, per_read: int, pythons: list[str], rounds: list[list[float]], figure: str) -> None:
    unit = "chunk" if figure == "chunk" else "1-token call"
    print(f"\n{path}, {per_read} event(s) per read: Keel CPU µs per {unit}, median of {len(rounds)} rounds")
    for index, python in enumerate(pythons):
        mine = [figures[index] for figures in rounds]
        line = f"  {python:<44} {statistics.median(mine):7.2f}"
        if index:
            line += f"   x first {statistics.median(r[index] / r[0] for r in rounds):.3f}"
        print(line)


# The child: Keel in process, the upstream in memory.


class Body:
    """An upstream body read ``per_read`` events at a time, by ``readany`` or line by line."""

    def __init__(self, events: list[bytes], per_read: int) -> None:
        self.blocks = [b"".join(events[i : i + per_read]) for i in range(0, len(events), per_read)][::-1]

    async def readany(self) -> bytes:
        return self.blocks.pop() if self.blocks else b""

    def __aiter__(self) -> Any:
        return self._lines()

    async def _lines(self) -> Any:
        while self.blocks:
            for line in self.blocks.pop().splitlines(keepends=True):
                yield line


class Response:
    def __init__(self, events: list[bytes], per_read: int) -> None:
        self.content = Body(events, per_read)
        self.headers = {"x-request-id": "req_1", "request-id": "req_1"}
        self.status = 200

    def close(self) -> None:
        pass


def openai_events(tokens: int) -> list[bytes]:
    def frame(**fields: Any) -> bytes:
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        return b"data: " + json.dumps({**base, "system_fingerprint": "fp", **fields}).encode() + b"\n\n"

    role = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    events = [frame(choices=[role])]
    events += [frame(choices=[{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}])] * tokens
    events.append(frame(choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    usage = {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens}
    events.append(frame(choices=[], usage=usage))
    return [*events, b"data: [DONE]\n\n"]


def anthropic_events(tokens: int) -> list[bytes]:
    def event(kind: str, **fields: Any) -> bytes:
        return f"event: {kind}\ndata: ".encode() + json.dumps({"type": kind, **fields}).encode() + b"\n\n"

    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": []}
    events = [event("message_start", message={**message, "usage": {"input_tokens": 5, "output_tokens": 1}})]
    events.append(event("content_block_start", index=0, content_block={"type": "text", "text": ""}))
    delta = event("content_block_delta", index=0, delta={"type": "text_delta", "text": " tok"})
    events += [delta] * tokens
    events.append(event("content_block_stop", index=0))
    events.append(event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": tokens}))
    return [*events, event("message_stop")]


async def measure(path: str, per_read: int, streams: int) -> dict[str, float]:
    import keel.providers.anthropic as anthropic_provider
    import keel.providers.openai as openai_provider
    from keel import Gateway

    tokens_now = [1]
    anthropic = path == "anthropic"
    make = anthropic_events if anthropic else openai_events

    async def fake_post(*_args: Any, **_kwargs: Any) -> Response:
        return Response(make(tokens_now[0]), per_read)

    openai_provider.post = fake_post  # type: ignore[attr-defined]
    anthropic_provider.post = fake_post  # type: ignore[attr-defined]
    workdir = tempfile.mkdtemp(prefix="keel-stream-path-")
    config = {
        "providers": {
            "up": {"profile": "generic", "base_url": "http://127.0.0.1:9/v1"},
            "claude": {"kind": "anthropic", "api_key": "bench", "base_url": "http://127.0.0.1:9"},
        },
        "models": {"m": ["claude/claude-x" if anthropic else "up/m"]},
        "pricing": {"models": {"up/*": "free", "claude/*": "free"}},
        "database": f"sqlite:///{workdir}/keel.db",
        # KEEL_BENCH_CONFIG (JSON) adds to this config: e.g. {"metrics": {"enabled": false}}, to
        # compare a setting's cost per chunk with two --python wrappers that set it differently.
        **json.loads(os.environ.get("KEEL_BENCH_CONFIG") or "{}"),
    }
    gateway = Gateway.from_config(config)
    run = _library(gateway, path) if path.startswith("library") else _server(gateway, path)
    figures: dict[int, list[float]] = {}
    for tokens in (*TOKENS, *TOKENS):
        tokens_now[0] = tokens
        for _ in range(3):
            await run()
        started = time.process_time()
        for _ in range(streams):
            await run()
        figures.setdefault(tokens, []).append((time.process_time() - started) / streams)
    short, long = min(figures[1]), min(figures[1000])
    await gateway.aclose()
    return {"us_per_chunk": (long - short) / 999 * 1e6, "ms_short": short * 1e3, "ms_long": long * 1e3}


SYSTEM = os.environ.get("KEEL_BENCH_SYSTEM")


def _library(gateway: Any, path: str) -> Any:
    choices = path == "library-choices"
    messages = [{"role": "user", "content": "hi"}]
    if SYSTEM:
        messages.insert(0, {"role": "system", "content": SYSTEM})

    async def run() -> None:
        text = []
        async for chunk in gateway.stream("m", messages):
            if choices:
                text.append((chunk.choices[0].delta.content or "") if chunk.choices else "")
            else:
                text.append(chunk.text)
        assert "".join(text).count("tok") >= 1

    return run


def _server(gateway: Any, path: str) -> Any:
    from keel.server import create_app

    app = create_app(gateway)
    route = "/v1/messages" if path == "anthropic" else "/v1/chat/completions"
    body: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 2000,
    }
    if SYSTEM and path == "anthropic":
        body["system"] = SYSTEM
    elif SYSTEM:
        body["messages"].insert(0, {"role": "system", "content": SYSTEM})
    request = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"anthropic-version", b"2023-06-01")]
    end = b"event: message_stop" if path == "anthropic" else b"data: [DONE]"

    async def run() -> None:
        asked = False
        sent: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": request, "more_body": False}
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                sent.append(message["body"])
            elif message["status"] != 200:
                raise RuntimeError(f"status {message['status']}")

        scope = {"type": "http", "method": "POST", "path": route, "headers": headers}
        await app(scope, receive, send)
        if end not in b"".join(sent[-3:]):
            raise RuntimeError(f"the stream did not end: {b''.join(sent)[-200:]!r}")

    return run


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
