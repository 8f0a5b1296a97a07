#!/usr/bin/env python3
"""What Prometheus metrics cost per request: Keel's CPU time per request with metrics on and off.

Starts the benchmark's static nginx upstream (bench/upstream.py) and two ``keel serve`` (one worker
each, the same config but ``metrics.enabled``), then runs wrk (bench/wrk/chat.lua) against them in
interleaved rounds — on → off, then off → on, alternately — and takes each server's CPU time per
request from /proc. The machine is shared and noisy, so the figure to read is the median over
rounds of the in-round ratio on/off. A scrape of the "on" server at the end shows the metrics were
really kept (its request count equals the requests wrk completed).

    bench/setup.sh   # once: nginx and wrk
    .venv/bin/python bench/metrics_overhead.py --rounds 6 --seconds 10            # c32, complete answers
    .venv/bin/python bench/metrics_overhead.py --workload sse --connections 8     # 20-event streams
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from upstream import Upstream, free_port  # noqa: E402

KEEL = str(BENCH.parent / ".venv" / "bin" / "keel")
LUA = BENCH / "wrk" / "chat.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKLOADS = {
    "json": ("", {"max_tokens": 16}, '"choices"'),
    "sse": ("/sse", {"max_tokens": 32, "stream": True}, "[DONE]"),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def serve_keel(
    workdir: Path, name: str, upstream: Upstream, path: str, settings: dict
) -> tuple[subprocess.Popen[bytes], int]:
    """``keel serve`` on a free port with Keel's defaults (ledger, breakers, in-memory state) and
    ``settings`` (top-level config sections) over them."""
    port = free_port()
    config = {
        "providers": {
            "upstream": {
                "kind": "openai",
                "base_url": f"{upstream.base}{path}/v1",
                "api_key": "sk-bench-upstream",
            }
        },
        "models": {"bench": "upstream/gpt-4o-mini"},
        "server": {"port": port},
        "database": f"sqlite:///{workdir}/{name}.db",
        **settings,
    }
    (workdir / f"{name}.yaml").write_text(json.dumps(config))
    process = subprocess.Popen(
        [KEEL, "serve", "--config", str(workdir / f"{name}.yaml"), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{name}.log").open("wb"),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"keel serve ({name}) did not start; see {workdir / name}.log") from None
            time.sleep(0.05)


def wrk(port: int, body: Path, expect: str, connections: int, seconds: int, workdir: Path) -> dict:
    out = workdir / "wrk-out.json"
    out.unlink(missing_ok=True)
    env = {**os.environ, "BENCH_BODY": str(body), "BENCH_EXPECT": expect, "BENCH_OUT": str(out)}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url]
    subprocess.run(cmd, env=env, capture_output=True, check=True, timeout=seconds + 60)
    result = json.loads(out.read_text())
    if result["bad_body"] or set(result["statuses"]) != {"200"}:
        raise RuntimeError(f"bad answers: {result['statuses']}, {result['bad_body']} bad bodies")
    return result


def measure(
    process: subprocess.Popen[bytes],
    port: int,
    args: argparse.Namespace,
    body: Path,
    expect: str,
    workdir: Path,
) -> dict:
    cpu = cpu_seconds(process.pid)
    result = wrk(port, body, expect, args.connections, args.seconds, workdir)
    spent = cpu_seconds(process.pid) - cpu
    return {
        "requests": result["requests"],
        "rps": result["rps"],
        "cpu_ms_per_request": spent * 1000 / result["requests"],
    }


def scraped_requests(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("keel_request_duration_seconds_count{")
    )


def interleaved_rounds(
    servers: dict[str, tuple[subprocess.Popen[bytes], int]],
    args: argparse.Namespace,
    body: Path,
    expect: str,
    workdir: Path,
    words: tuple[str, str] = ("on", "off"),
) -> list[dict]:
    """Warms both servers ("on" and "off") up, then measures them in ``args.rounds`` rounds, in the
    order on → off, then off → on, alternately; each round's figures and its ratio on/off, printed
    as they come (``words`` name the two servers in the lines)."""
    for _, port in servers.values():  # warm up: imports, connection pools, caches
        wrk(port, body, expect, args.connections, 3, workdir)
    rounds = []
    for number in range(args.rounds):
        order = ("on", "off") if number % 2 == 0 else ("off", "on")
        figures = {name: measure(*servers[name], args, body, expect, workdir) for name in order}
        figures["ratio"] = figures["on"]["cpu_ms_per_request"] / figures["off"]["cpu_ms_per_request"]
        rounds.append(figures)
        on, off = figures["on"], figures["off"]
        print(
            f"round {number + 1} ({' → '.join(order)}): CPU ms/request {words[0]} "
            f"{on['cpu_ms_per_request']:.4f}, {words[1]} {off['cpu_ms_per_request']:.4f}, "
            f"on/off {figures['ratio']:.3f}; req/s {words[0]} {on['rps']:.0f}, {words[1]} {off['rps']:.0f}",
            flush=True,
        )
    return rounds


def observing_cost_us(number: int = 50_000) -> float:
    """Microseconds of CPU that observing one answered call takes (``telemetry.calls``), timed
    in this process on a ledger record like the benchmark's: the figure least disturbed by load."""
    from decimal import Decimal

    from keel.config import MetricsConfig
    from keel.ledger import LedgerRecord
    from keel.telemetry import calls

    record = LedgerRecord(
        request_id="0" * 32, started_at=0.0, status="ok", requested_model="bench", stream=False,
        route="upstream/gpt-4o-mini", input_tokens=12, output_tokens=9, cost_usd=Decimal("0.0000072"),
        latency_ms=3.0, attempts=[{"route": "upstream/gpt-4o-mini", "outcome": "ok", "reason": "first"}],
    )  # fmt: skip
    settings = MetricsConfig()
    started = time.process_time()
    for _ in range(number):
        calls.call_started()
        calls.call_ended(record, settings)
    return (time.process_time() - started) / number * 1e6


def load_arguments(description: str) -> argparse.ArgumentParser:
    """The options every on/off overhead benchmark takes: rounds, wrk's run, workload, output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="json")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser


def main() -> None:
    args = load_arguments(__doc__.split("\n\n")[0]).parse_args()
    path, extra, expect = WORKLOADS[args.workload]
    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-metrics-"))
    body = workdir / "body.json"
    body.write_text(
        json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello."}], **extra})
    )
    with Upstream() as upstream:
        servers = {
            name: serve_keel(workdir, name, upstream, path, {"metrics": {"enabled": name == "on"}})
            for name in ("on", "off")
        }
        try:
            rounds = interleaved_rounds(servers, args, body, expect, workdir)
            served = sum(r["on"]["requests"] for r in rounds)
            counted = scraped_requests(servers["on"][1])
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    micro = observing_cost_us()
    report = {
        "observing_one_call_us": micro,
        "workload": args.workload,
        "connections": args.connections,
        "rounds": rounds,
        "median_cpu_ms_per_request": {
            name: statistics.median(r[name]["cpu_ms_per_request"] for r in rounds) for name in ("on", "off")
        },
        "median_ratio_on_off": statistics.median(r["ratio"] for r in rounds),
        "scraped_requests_ge_measured": counted >= served,
    }
    cpu = report["median_cpu_ms_per_request"]
    print(
        f"\n{args.workload} c{args.connections}, {args.rounds} rounds of {args.seconds} s: median CPU "
        f"ms/request on {cpu['on']:.4f}, off {cpu['off']:.4f}; "
        f"median in-round on/off {report['median_ratio_on_off']:.3f} "
        f"(the on server's scrape counts {counted:.0f} calls; wrk completed {served} in the measured runs)"
    )
    print(f"observing one call's metrics: {micro:.2f} µs of CPU (timed in-process)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
