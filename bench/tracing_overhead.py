#!/usr/bin/env python3
"""What OpenTelemetry tracing costs per request: Keel's CPU time per request with traces on and off.

Starts the benchmark's static nginx upstream (bench/upstream.py) and two ``keel serve`` (one worker
each, metrics on in both): "off" with Keel's defaults, "on" with ``tracing: {enabled: true,
exporter: none}`` — every call's span and attempt span made and filled, the GenAI instruments
recorded and aggregated, nothing exported (the exporter's own cost depends on the collector) — then
runs wrk (bench/wrk/chat.lua) against them in interleaved rounds, on → off then off → on, and
takes each server's CPU time per request from /proc. Read the median of the in-round on/off ratios.

    bench/setup.sh   # once: nginx and wrk
    .venv/bin/python bench/tracing_overhead.py --rounds 6 --seconds 10            # c32, complete answers
    .venv/bin/python bench/tracing_overhead.py --workload sse --connections 8     # 20-event streams
    .venv/bin/python bench/tracing_overhead.py \
        --tracing '{"enabled": true, "exporter": "none", "metrics": false}'
    # (another tracing: section for the traced server: here, spans without the GenAI instruments)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from metrics_overhead import WORKLOADS, interleaved_rounds, load_arguments, serve_keel  # noqa: E402
from upstream import Upstream  # noqa: E402

TRACING = {"enabled": True, "exporter": "none"}


def tracing_cost_us(number: int = 20_000) -> float:
    """Microseconds of CPU that tracing one answered call with one attempt takes (both spans, their
    attributes, the GenAI instruments), timed in this process: the figure least disturbed by load."""
    import asyncio
    from decimal import Decimal

    from keel.call import Call, Deadline
    from keel.config import TracingConfig
    from keel.ledger import record_of
    from keel.providers.openai import OpenAIProvider
    from keel.route import Route
    from keel.telemetry.genai import GenAIInstruments
    from keel.telemetry.otel import open_otel
    from keel.telemetry.tracing import CallTracer
    from keel.types import Attempt, ChatRequest, ChatResponse, Usage

    otel = open_otel(TracingConfig(enabled=True, exporter="none"))
    tracer = CallTracer(otel.tracer, GenAIInstruments(otel.meter))
    request = ChatRequest.model_validate({"model": "bench", "messages": [{"role": "user", "content": "Hi"}]})
    route = Route("upstream/gpt-4o-mini", OpenAIProvider("upstream", base_url="http://x/v1"), "gpt-4o-mini")
    response = ChatResponse.model_validate({"model": "gpt-4o-mini", "choices": []})

    async def run() -> float:
        started = time.process_time()
        for _ in range(number):
            call = Call(request=request, deadline=Deadline.after(60))
            tracer.call_started(call)
            attempt = Attempt(route=route.name, model="gpt-4o-mini", started_at=time.time())
            call.attempts.append(attempt)
            await tracer.attempt_started(call, route, attempt)
            attempt.outcome, attempt.duration_s = "ok", 0.002
            attempt.usage, attempt.cost = Usage(input_tokens=12, output_tokens=9), Decimal("0.0000072")
            await tracer.attempt_ended(call, route, attempt)
            tracer.call_ended(call, record_of(call, status="ok", response=response), response)
        return (time.process_time() - started) / number * 1e6

    return asyncio.run(run())


def main() -> None:
    parser = load_arguments(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tracing", type=json.loads, default=TRACING, help='the "on" server\'s tracing: section, as JSON'
    )
    args = parser.parse_args()
    path, extra, expect = WORKLOADS[args.workload]
    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-tracing-"))
    body = workdir / "body.json"
    body.write_text(
        json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Say hello."}], **extra})
    )
    with Upstream() as upstream:
        servers = {
            name: serve_keel(
                workdir,
                name,
                upstream,
                path,
                {"tracing": args.tracing if name == "on" else {"enabled": False}},
            )
            for name in ("on", "off")
        }
        try:
            rounds = interleaved_rounds(servers, args, body, expect, workdir, ("traced", "untraced"))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
    micro = tracing_cost_us()
    report = {
        "tracing_one_call_us": micro,
        "workload": args.workload,
        "tracing": args.tracing,
        "connections": args.connections,
        "rounds": rounds,
        "median_cpu_ms_per_request": {
            name: statistics.median(r[name]["cpu_ms_per_request"] for r in rounds) for name in ("on", "off")
        },
        "median_ratio_on_off": statistics.median(r["ratio"] for r in rounds),
    }
    cpu = report["median_cpu_ms_per_request"]
    print(
        f"\n{args.workload} c{args.connections}, {args.rounds} rounds of {args.seconds} s: median CPU "
        f"ms/request traced {cpu['on']:.4f}, untraced {cpu['off']:.4f}; "
        f"median in-round on/off {report['median_ratio_on_off']:.3f}"
    )
    print(
        f"tracing one call (call span, attempt span, GenAI instruments): {micro:.2f} µs of CPU (in-process)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
