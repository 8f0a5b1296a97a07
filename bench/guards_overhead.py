#!/usr/bin/env python3
"""What the default guards cost: Keel's CPU time per request with Keel's default guards and with
every guard off.

"Defaults" is Keel as it ships: the output guard that blocks credentials in answers, the canary in
every attempt's system text (checked in the answer), spotlighting (nothing to do unless a turn is
marked), and the prompt-injection scanner at its default mode; PII redaction is off by default in
both. "Off" turns every guard off (``guards: {output: [], canary: off, injection: off,
spotlight: off}``). The request is a realistic chat turn: a system prompt and a ~700-character user
message, so the canary and the scanner have something to do.

Starts the benchmark's static nginx upstream (bench/upstream.py) and two ``keel serve`` (one worker
each), then runs wrk against them in interleaved rounds (on → off, then off → on) and takes each
server's CPU time per request from /proc. Read the median of the in-round ratios.

    bench/setup.sh   # once: nginx and wrk
    .venv/bin/python bench/guards_overhead.py --rounds 6 --seconds 10              # c32, complete answers
    .venv/bin/python bench/guards_overhead.py --workload sse --connections 8       # 20-event streams
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from metrics_overhead import KEEL, WORKLOADS, measure, wrk  # noqa: E402
from upstream import Upstream, free_port  # noqa: E402

GUARDS_OFF = {
    "output": [],
    "canary": {"mode": "off"},
    "injection": {"mode": "off"},
    "spotlight": {"mode": "off"},
}
SYSTEM = (
    "You are the support assistant of a software company. Answer in the customer's language, "
    "briefly and politely. Never promise refunds; point to the billing page instead."
)
USER = (
    "Hello, I upgraded to the team plan last week and since then two of my colleagues cannot log in. "
    "They get a message saying their seat is not assigned, although the admin page lists them as "
    "members. We tried signing out and in again, clearing the browser cache and using another "
    "browser. One of them is on a laptop managed by our IT department with a proxy, the other works "
    "from home. Could you tell me what to check next, and whether the seats need to be assigned by "
    "hand after an upgrade? We have a demo for a customer on Thursday, so this is rather urgent. "
    "Thanks a lot for your help, and sorry for the long message."
)


def serve(
    workdir: Path, name: str, upstream: Upstream, path: str, on_guards: dict | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """``keel serve`` on a free port with Keel's defaults (or ``on_guards``); every guard off when
    ``name`` is "off"."""
    port = free_port()
    config = {
        "providers": {
            "upstream": {"kind": "openai", "base_url": f"{upstream.base}{path}/v1", "api_key": "sk-bench"}
        },
        "models": {"bench": "upstream/gpt-4o-mini"},
        "server": {"port": port},
        "database": f"sqlite:///{workdir}/{name}.db",
        **({"guards": GUARDS_OFF} if name == "off" else {"guards": on_guards} if on_guards else {}),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="json")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--on-guards",
        type=json.loads,
        help='the "on" server\'s guards section instead of the defaults (JSON), to price one guard',
    )
    args = parser.parse_args()
    path, extra, expect = WORKLOADS[args.workload]
    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-guards-"))
    body = workdir / "body.json"
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    body.write_text(json.dumps({"model": "bench", "messages": messages, **extra}))
    with Upstream() as upstream:
        servers = {name: serve(workdir, name, upstream, path, args.on_guards) for name in ("on", "off")}
        try:
            for _, port in servers.values():  # warm up: imports, connection pools, detectors
                wrk(port, body, expect, args.connections, 3, workdir)
            rounds = []
            for number in range(args.rounds):
                order = ("on", "off") if number % 2 == 0 else ("off", "on")
                figures = {name: measure(*servers[name], args, body, expect, workdir) for name in order}
                figures["ratio"] = figures["on"]["cpu_ms_per_request"] / figures["off"]["cpu_ms_per_request"]
                rounds.append(figures)
                on, off = figures["on"], figures["off"]
                print(
                    f"round {number + 1} ({' → '.join(order)}): CPU ms/request defaults "
                    f"{on['cpu_ms_per_request']:.4f}, off {off['cpu_ms_per_request']:.4f}, "
                    f"ratio {figures['ratio']:.3f}; req/s defaults {on['rps']:.0f}, off {off['rps']:.0f}",
                    flush=True,
                )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    cpu = {name: statistics.median(r[name]["cpu_ms_per_request"] for r in rounds) for name in ("on", "off")}
    report = {
        "workload": args.workload,
        "connections": args.connections,
        "rounds": rounds,
        "median_cpu_ms_per_request": cpu,
        "median_ratio_defaults_off": statistics.median(r["ratio"] for r in rounds),
        "median_added_ms_per_request": statistics.median(
            r["on"]["cpu_ms_per_request"] - r["off"]["cpu_ms_per_request"] for r in rounds
        ),
    }
    print(
        f"\n{args.workload} c{args.connections}, {args.rounds} rounds of {args.seconds} s: median CPU "
        f"ms/request defaults {cpu['on']:.4f}, off {cpu['off']:.4f}; median in-round ratio "
        f"{report['median_ratio_defaults_off']:.3f}, added {report['median_added_ms_per_request']:.4f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
