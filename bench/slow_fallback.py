"""The 100 ms upstream when nginx has no echo module: aiohttp on uvloop, the same fixed JSON after a
sleep. Run with the project's venv (aiohttp, uvloop); upstream.py starts it when it is needed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from aiohttp import web
from upstream import COMPLETION, MODELS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=100)
    args = parser.parse_args()
    body, models, delay = json.dumps(COMPLETION).encode(), json.dumps(MODELS).encode(), args.delay_ms / 1000

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(delay)
        return web.Response(body=body, content_type="application/json", headers={"x-request-id": "req_bench"})

    async def list_models(request: web.Request) -> web.Response:
        return web.Response(body=models, content_type="application/json")

    app = web.Application()
    app.router.add_post("/slow/v1/chat/completions", chat)
    app.router.add_get("/slow/v1/models", list_models)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
