#!/usr/bin/env python3
"""The floor under ``keel serve``: the least a uvicorn + aiohttp proxy costs, and how bursts form.

A raw ASGI app on uvicorn (uvloop, httptools) that forwards each POST body to one upstream URL with
one pooled aiohttp session and returns the upstream's bytes: no routing, policies, ledger or logs.
What it adds over a direct call is what the HTTP layers Keel is built on add by themselves.

Knobs, to study the 100 ms-upstream scenario (bench/README.md, "Session of 2026-11-23 afternoon"):

    --burn-us N     burn N µs of CPU per request, half before the upstream call and half after
    --yields N      N extra ``await asyncio.sleep(0)`` before and after the upstream call
    --eager         start aiohttp's body writer eagerly on Python 3.11 (Keel's eager_tasks)
    --stream        relay the upstream's body as it arrives, with the SSE response headers: one
                    ``http.response.body`` send (``more_body``) per ``content.readany()``, no
                    parsing; the floor under Keel's CPU per relayed chunk (bench/long_stream.py
                    --floor). The knobs above apply in both modes.

    .venv/bin/python bench/minimal_proxy.py --upstream http://127.0.0.1:18080/v1/chat/completions
    BENCH_BODY=... wrk -t1 -c1 -d5 -s bench/wrk/chat.lua http://127.0.0.1:4200/v1/chat/completions
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
import uvicorn

# Keel's streamed-response headers (src/keel/server/sse.py, SSE_HEADERS).
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def build_app(upstream: str, burn_us: float, yields: int, eager: bool, stream: bool = False) -> Any:
    half = burn_us / 2e6
    session: aiohttp.ClientSession | None = None
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}

    def burn() -> None:
        end = time.perf_counter() + half
        while time.perf_counter() < end:
            pass

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if eager:
                        from keel.server import eager_tasks

                        eager_tasks.install()
                    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if session is not None:
                        await session.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert session is not None
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        burn()
        for _ in range(yields):
            await asyncio.sleep(0)
        if stream:
            async with session.post(upstream, data=body, headers=headers) as response:
                start = {"type": "http.response.start", "status": response.status, "headers": SSE_HEADERS}
                await send(start)
                while chunk := await response.content.readany():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            burn()
            for _ in range(yields):
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b""})
            return
        async with session.post(upstream, data=body, headers=headers) as response:
            answer = await response.read()
        burn()
        for _ in range(yields):
            await asyncio.sleep(0)
        json_type = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": json_type})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="URL every request is forwarded to")
    parser.add_argument("--port", type=int, default=4200)
    parser.add_argument("--burn-us", type=float, default=0.0)
    parser.add_argument("--yields", type=int, default=0)
    parser.add_argument("--eager", action="store_true")
    parser.add_argument(
        "--stream", action="store_true", help="relay the upstream's body as it arrives (SSE headers)"
    )
    args = parser.parse_args()
    app = build_app(args.upstream, args.burn_us, args.yields, args.eager, args.stream)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools", log_level="warning",
        access_log=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
