"""How long a config reload holds the event loop: ``Gateway.reconfigure`` on a 20-model config.

    .venv/bin/python bench/reload_cost.py [--reloads 50] [--models 20]

Each reload changes one model's cascade, so a new generation is built every time (validation, the
providers taken over, cascades, prices, the policy stack); the figure is the wall time of the
synchronous ``reconfigure`` call, during which no other call on the loop runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

from keel import Gateway


async def main(reloads: int, models: int) -> None:
    config: dict[str, Any] = {
        "providers": {"m": {"profile": "generic", "base_url": "http://127.0.0.1:9/v1"}},
        "models": {f"alias{i}": [f"m/first{i}", f"m/second{i}"] for i in range(models)},
        "pricing": {"models": {"m/*": "free"}},
        "database": f"sqlite:///{tempfile.mkdtemp()}/keel.db",
    }
    gateway = Gateway.from_config(config)
    took = []
    for n in range(reloads):
        config["models"]["alias0"] = [f"m/changed{n}"]
        started = time.perf_counter()
        gateway.reconfigure(config)
        took.append(time.perf_counter() - started)
    await gateway.aclose()
    print(
        f"reconfigure, {models} models: median {statistics.median(took) * 1e3:.2f} ms, "
        f"max {max(took) * 1e3:.2f} ms over {reloads} reloads"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reloads", type=int, default=50)
    parser.add_argument("--models", type=int, default=20)
    options = parser.parse_args()
    asyncio.run(main(options.reloads, options.models))
