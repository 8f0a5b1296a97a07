"""Cache-hit latency through ``keel serve`` (memory and Redis cache) against an uncached call to a
100 ms upstream (``keel mock`` with ``ttft_ms=100``).

It starts, as subprocesses on loopback: ``keel mock --fast``, a private ``redis-server``, and two
``keel serve`` (one worker each): one whose cache is in memory, one whose cache is in Redis. Then, in
interleaved rounds (uncached → memory hit → Redis hit, ``--rounds`` times), it sends ``-n`` sequential
requests per target on one kept-alive connection and takes each round's median; the report is the
median over rounds, and the in-round ratio of uncached to hit. The server's CPU time per request
comes from /proc. Every answer is checked (200, the expected ``x-keel-cache`` header).

    .venv/bin/python bench/cache_hit.py --rounds 5 -n 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEEL = str(Path(sys.executable).with_name("keel"))
MODEL = "mock/ok:tokens=12,ttft_ms=100"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve(workdir: Path, name: str, mock_port: int, cache: dict) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = {
        "providers": {"mock": {"profile": "generic", "base_url": f"http://127.0.0.1:{mock_port}/v1"}},
        "pricing": {"models": {"mock/*": {"input": 1, "output": 2}}},
        "database": f"sqlite:///{workdir}/{name}.db",
        "server": {"port": port},
        "cache": cache,
    }
    path = workdir / f"{name}.yaml"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        [KEEL, "serve", "--config", str(path), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{name}.log", "wb"),  # noqa: SIM115 (kept open for the process)
    )
    wait_port(port)
    return process, port


def run(port: int, n: int, expect: str | None, no_store: bool) -> list[float]:
    """``n`` sequential requests on one connection; their latencies in ms."""
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "benchmark"}], "temperature": 0}
    )
    headers = {"content-type": "application/json"}
    if no_store:
        headers["cache-control"] = "no-store"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or b'"choices"' not in data:
                raise RuntimeError(f"bad answer {response.status}: {data[:200]!r}")
            if response.getheader("x-keel-cache") != expect:
                raise RuntimeError(f"x-keel-cache is {response.getheader('x-keel-cache')}, not {expect}")
    finally:
        conn.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=200, help="requests per target per round")
    parser.add_argument("--uncached-n", type=int, default=30, help="uncached requests per round (100 ms)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        sys.exit("redis-server is needed (apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-cache-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        mock_port, redis_port = free_port(), free_port()
        processes.append(
            subprocess.Popen([KEEL, "mock", "--fast", "--port", str(mock_port)], stdout=subprocess.DEVNULL)
        )
        processes.append(
            subprocess.Popen(
                [redis_binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_port(mock_port)
        wait_port(redis_port)
        memory, memory_port = serve(workdir, "memory", mock_port, {"backend": "memory://"})
        redis, redis_port_keel = serve(
            workdir, "redis", mock_port, {"backend": f"redis://127.0.0.1:{redis_port}/0"}
        )
        processes += [memory, redis]
        run(memory_port, 1, "miss", False)  # store the entry in each cache, and warm up
        run(redis_port_keel, 1, "miss", False)
        targets = {
            "uncached": (memory, memory_port, None, True, args.uncached_n),
            "memory_hit": (memory, memory_port, "hit", False, args.n),
            "redis_hit": (redis, redis_port_keel, "hit", False, args.n),
        }
        for _, port, expect, no_store, _ in targets.values():
            run(port, 20, expect, no_store)
        rounds: list[dict[str, dict[str, float]]] = []
        for number in range(args.rounds):
            figures = {}
            for name, (process, port, expect, no_store, count) in targets.items():
                cpu = cpu_seconds(process.pid)
                latencies = sorted(run(port, count, expect, no_store))
                figures[name] = {
                    "p50_ms": statistics.median(latencies),
                    "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
                    "cpu_ms_per_request": (cpu_seconds(process.pid) - cpu) * 1000 / count,
                }
            for name in ("memory_hit", "redis_hit"):
                figures[name]["speedup"] = figures["uncached"]["p50_ms"] / figures[name]["p50_ms"]
            rounds.append(figures)
            medians = ", ".join(f"{name} {value['p50_ms']:.2f} ms" for name, value in figures.items())
            print(f"round {number + 1}: {medians}")
        report = {
            name: {figure: statistics.median(r[name][figure] for r in rounds) for figure in rounds[0][name]}
            for name in targets
        }
        print(f"\nmedians over {args.rounds} rounds ({args.n} hits / {args.uncached_n} uncached per round):")
        print(f"{'target':<12} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'uncached/hit':>13}")
        for name, figures in report.items():
            speedup = f"{figures['speedup']:.0f}x" if "speedup" in figures else ""
            print(
                f"{name:<12} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} "
                f"{figures['cpu_ms_per_request']:>11.3f} {speedup:>13}"
            )
        if args.json:
            args.json.write_text(json.dumps({"rounds": rounds, "medians": report}, indent=2))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
