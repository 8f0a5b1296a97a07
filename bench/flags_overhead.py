#!/usr/bin/env python3
"""What the flags policy costs a call: a micro-benchmark of ``FlagPolicy`` on its own.

Three timings per round, interleaved (the machine is shared and noisy; read the medians):

- ``bare``: the next handler awaited directly — the floor;
- ``no feature``: through ``FlagPolicy`` for a call naming no feature (what every call that does not
  use flags pays: one dictionary lookup and one await);
- ``feature``: a call naming a flag with a 10 % rollout, decided from the registry's memory (no
  database read: the snapshot is loaded once, then only the poller reads).

    .venv/bin/python bench/flags_overhead.py --rounds 5 --calls 200000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from keel.call import Call, Deadline
from keel.config import load_config
from keel.flags import edits
from keel.flags.registry import FlagRegistry
from keel.policies.flag import FlagPolicy
from keel.types import ChatRequest, Message


async def main(rounds: int, calls: int) -> None:
    folder = tempfile.mkdtemp(prefix="keel-flags-bench-")
    config = load_config({"database": f"sqlite:///{folder}/keel.db", "flags": {"refresh_interval": 60}})
    registry = FlagRegistry(config)
    spec = {"variants": {"old": {}, "new": {}}, "default": "old"}
    await registry.change("summarizer", edits.set_spec("summarizer", spec), by="bench", action="set")
    await registry.change("summarizer", edits.rollout("summarizer", {"new": 10}), by="bench", action="set")
    await registry.start()
    policy = FlagPolicy(registry)
    request = ChatRequest(model="m", messages=[Message(role="user", content="hi")])
    reply = object()

    async def call_next(call: Call) -> object:
        return reply

    def fresh(feature: str | None) -> Call:
        options = {"feature": feature} if feature else {}
        return Call(
            request=request.model_copy(update={"user": "u-1"}), deadline=Deadline.after(60), options=options
        )

    async def bare(call: Call) -> None:
        await call_next(call)

    async def through(call: Call) -> None:
        await policy(call, call_next)  # type: ignore[arg-type]

    results: dict[str, list[float]] = {"bare": [], "no feature": [], "feature": []}
    for _ in range(rounds):
        for name, run, feature in (
            ("bare", bare, None),
            ("no feature", through, None),
            ("feature", through, "summarizer"),
        ):
            prepared = [fresh(feature) for _ in range(calls)]
            started = time.perf_counter_ns()
            for call in prepared:
                await run(call)
            results[name].append((time.perf_counter_ns() - started) / calls)
    await registry.aclose()
    floor = statistics.median(results["bare"])
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:>11}: {median:8.0f} ns/call  (+{median - floor:6.0f} ns over bare)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.calls))
