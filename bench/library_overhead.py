"""Keel's library overhead: ``Gateway.chat`` against a direct aiohttp call to the same mock, interleaved.

    .venv/bin/python bench/library_overhead.py [N]

Three rounds of N sequential calls each (default 1,000), direct then Keel, on one event loop; the
mock runs in a thread of the same process, so CPU figures include it for both targets alike.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time

import aiohttp
import orjson

from keel import Gateway
from keel.mock import MockServer


async def main(n: int, base: str) -> None:
    messages = [{"role": "user", "content": "Say hello to the world please"}]
    body = orjson.dumps({"model": "ok:tokens=12", "messages": messages, "max_tokens": 50})
    config = {
        "providers": {"m": {"profile": "generic", "base_url": base}},
        "models": {"smart": ["m/ok:tokens=12"]},
        "pricing": {"models": {"m/*": "free"}},
        "database": f"sqlite:///{tempfile.mkdtemp()}/keel.db",
    }
    async with Gateway.from_config(config) as gateway, aiohttp.ClientSession() as session:

        async def direct() -> None:
            async with session.post(
                f"{base}/chat/completions", data=body, headers={"content-type": "application/json"}
            ) as response:
                orjson.loads(await response.read())

        async def keel() -> None:
            await gateway.chat("smart", messages, max_tokens=50)

        targets = {"direct": direct, "keel": keel}
        for call in targets.values():  # warm both paths
            for _ in range(100):
                await call()
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        for _ in range(3):
            for name, call in targets.items():
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(n):
                    await call()
                results[name].append(
                    ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)
                )
    for name, rounds in results.items():
        print(
            f"{name:7} wall µs/call {[round(w) for w, _ in rounds]}  cpu µs/call {[round(c) for _, c in rounds]}"
        )
    added = [k[0] - d[0] for k, d in zip(results["keel"], results["direct"], strict=True)]
    print(f"added wall µs/call per round: {[round(a) for a in added]}")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    server = MockServer()
    with server.run_in_thread() as url:
        asyncio.run(main(count, url))
