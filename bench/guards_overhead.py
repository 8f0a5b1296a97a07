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

import json
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from metrics_overhead import WORKLOADS, interleaved_rounds, load_arguments, serve_keel  # noqa: E402
from upstream import Upstream  # noqa: E402

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


def main() -> None:
    parser = load_arguments(__doc__.split("\n\n")[0])
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
        on_guards = {"guards": args.on_guards} if args.on_guards else {}
        servers = {
            name: serve_keel(
                workdir, name, upstream, path, {"guards": GUARDS_OFF} if name == "off" else on_guards
            )
            for name in ("on", "off")
        }
        try:
            rounds = interleaved_rounds(servers, args, body, expect, workdir, ("defaults", "off"))
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
