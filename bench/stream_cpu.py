"""CPU per relayed stream: ``keel serve`` in front of ``keel mock --fast``, against the mock's own CPU.

    .venv/bin/python bench/stream_cpu.py [--keel A/.venv/bin/keel --keel B/.venv/bin/keel] \
        [--tokens 1,20,200] [--streams 400] [--rounds 5]

For each token count, in interleaved rounds, each ``keel`` executable given (two checkouts, to
compare commits) serves ``--streams`` streamed chat completions at 8 concurrent connections
(``stream_options.include_usage``, read to ``[DONE]``), one ``keel serve`` per executable, all in
front of one mock. The figure is CPU time (utime + stime from /proc) per stream of each
``keel serve`` process, and the mock's CPU per stream in the same round as the reference. It prints
the median over rounds of each, and of each in-round ratio to the first executable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

TICK = os.sysconf("SC_CLK_TCK")
CONCURRENCY = 8


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its reaped children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICK


def start(args: list[str], port: int, within: float = 30.0) -> subprocess.Popen[bytes]:
    """Run ``args`` and return once it accepts connections on ``port``."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = time.monotonic() + within
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{args} did not listen on {port}")


async def streams(base: str, tokens: int, count: int) -> None:
    """``count`` streams of ``tokens`` tokens, 8 at a time, each read to its end and checked."""
    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": "Tell me a story"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": tokens + 10,
    }
    left = iter(range(count))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for _ in left:
                async with session.post(f"{base}/chat/completions", json=body) as response:
                    data = await response.read()
                    if response.status != 200 or not data.endswith(b"data: [DONE]\n\n"):
                        raise RuntimeError(f"bad stream: {response.status} {data[-200:]!r}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keel", action="append", help="a keel executable (repeat to compare)")
    parser.add_argument("--tokens", default="1,20,200")
    parser.add_argument("--streams", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    executables = options.keel or [str(Path(sys.executable).with_name("keel"))]
    mock_port = free_port()
    mock = start([executables[0], "mock", "--fast", "--port", str(mock_port)], mock_port)
    workdir = tempfile.mkdtemp(prefix="keel-bench-")
    try:
        for tokens in [int(value) for value in options.tokens.split(",")]:
            servers = [
                serve(executable, index, tokens, mock_port, workdir)
                for index, executable in enumerate(executables)
            ]
            try:
                for _, base in servers:
                    asyncio.run(streams(base, tokens, 50))  # warm-up
                per_round: list[list[float]] = []
                mock_round: list[float] = []
                for _ in range(options.rounds):
                    figures, mock_cpu = [], 0.0
                    for process, base in servers:
                        before, mock_before = cpu_seconds(process.pid), cpu_seconds(mock.pid)
                        asyncio.run(streams(base, tokens, options.streams))
                        figures.append((cpu_seconds(process.pid) - before) / options.streams * 1000)
                        mock_cpu += (cpu_seconds(mock.pid) - mock_before) / options.streams * 1000
                    per_round.append(figures)
                    mock_round.append(mock_cpu / len(servers))
            finally:
                for process, _ in servers:
                    process.terminate()
                    process.wait(10)
            report(tokens, executables, per_round, mock_round)
    finally:
        mock.terminate()
        mock.wait(10)


def serve(
    executable: str, index: int, tokens: int, mock_port: int, workdir: str
) -> tuple[subprocess.Popen[bytes], str]:
    """One ``keel serve`` (defaults, access log on) whose model ``bench`` streams ``tokens`` tokens."""
    config = Path(workdir, f"keel-{index}-{tokens}.yaml")
    config.write_text(
        f"providers: {{mock: {{profile: generic, base_url: 'http://127.0.0.1:{mock_port}/v1'}}}}\n"
        f"models: {{bench: ['mock/ok:tokens={tokens}']}}\n"
        "pricing: {models: {mock/*: free}}\n"
        f"database: 'sqlite:///{workdir}/keel-{index}-{tokens}.db'\n"
    )
    port = free_port()
    process = start([executable, "serve", "--config", str(config), "--port", str(port)], port)
    return process, f"http://127.0.0.1:{port}/v1"


def report(tokens: int, executables: list[str], per_round: list[list[float]], mock: list[float]) -> None:
    print(f"\n{tokens} tokens per stream, median over {len(per_round)} rounds (CPU ms per stream):")
    print(f"  {'keel mock (reference)':<48} {statistics.median(mock):8.3f}")
    for index, executable in enumerate(executables):
        mine = [figures[index] for figures in per_round]
        line = f"  {executable:<48} {statistics.median(mine):8.3f}"
        line += f"   x mock {statistics.median(m / r for m, r in zip(mine, mock, strict=True)):.2f}"
        if index:
            ratio = statistics.median(figures[index] / figures[0] for figures in per_round)
            line += f"   x first {ratio:.3f}"
        print(line)


if __name__ == "__main__":
    main()
