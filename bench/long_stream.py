"""Keel's CPU per relayed chunk on long streams, against the mock's and a direct connection.

    .venv/bin/python bench/long_stream.py [--keel A/.venv/bin/keel --keel B/.venv/bin/keel] \
        [--scenarios unpaced-8,unpaced-64,paced-8,paced-64,rate-20] [--rounds 3] \
        [--streams N] [--short-streams N] [--rate-streams N] [--client-processes 2] [--json PATH] \
        [--floor]

One ``keel mock --fast`` and one ``keel serve`` per executable given (defaults, access log on, one
worker; two checkouts to compare commits), all on loopback. Scenarios (issue 13):

- ``unpaced-8``, ``unpaced-64``: 1,000-token streams at 8 / 64 concurrent connections with no delay
  between tokens (many upstream events arrive in one read), and 1-token streams the same way.
- ``paced-8``, ``paced-64``: the same with 20 ms between tokens (the mock's
  ``ok:tokens=1000,token_ms=20``: one event per read, like a real provider); a 1,000-token stream
  takes ~20 s, so a round runs exactly ``concurrency`` of them per target.
- ``rate-20``: 20-token streams at 8 connections, streams per second.

Each scenario runs interleaved rounds of direct (the client straight to the mock, no Keel) → each
Keel in turn. The main figure is Keel's CPU per relayed chunk: (CPU per 1,000-token stream - CPU
per 1-token stream) / 999, CPU being utime + stime of the ``keel serve`` process from /proc, with the
mock's CPU per chunk worked out the same way in the same runs as the reference. Streams per second
and the median time per stream are reported against the direct run of the same round. Every figure
is the median over rounds; ``x first`` is the median of in-round ratios to the first executable.

``--floor`` adds one more target to every round, measured like a Keel: bench/minimal_proxy.py
``--stream`` (uvicorn + aiohttp relaying the mock's body as it arrives, no parsing, run with the
first executable's Python), sent the mock's model names as the direct target is. Its CPU per chunk
is the least a Python relay built on Keel's HTTP layers spends on this machine.

The load client is aiohttp in ``--client-processes`` worker processes (the connections split
between them), each reading a fixed number of streams to ``data: [DONE]`` and checking every one
(status 200, at least one event per token, the usage's completion tokens); its CPU is reported as
cores busy, to show whether it was the bottleneck (then read the CPU figures, not the rates).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_cpu import cpu_seconds, free_port, start

LONG, SHORT, RATE_TOKENS, PACE_MS = 1000, 1, 20, 20


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    token_ms: int = 0  # delay between tokens at the mock
    rate: bool = False  # the 20-token throughput mode: no subtraction, streams/s is the figure


SCENARIOS = {
    "unpaced-8": Scenario("unpaced-8", 8),
    "unpaced-64": Scenario("unpaced-64", 64),
    "paced-8": Scenario("paced-8", 8, PACE_MS),
    "paced-64": Scenario("paced-64", 64, PACE_MS),
    "rate-20": Scenario("rate-20", 8, rate=True),
}


@dataclass
class Run:
    """One load against one target: ``count`` streams of ``tokens`` tokens."""

    count: int
    wall_s: float
    median_stream_s: float
    client_cpu_s: float
    keel_cpu_s: float | None  # None for the direct target
    mock_cpu_s: float

    @property
    def rate(self) -> float:
        return self.count / self.wall_s


@dataclass
class Sample:
    """One target in one round of one scenario: the long (or rate) run and the 1-token run."""

    long: Run
    short: Run | None = None

    def per_chunk_us(self, keel: bool, tokens: int) -> float | None:
        """Keel's (or the mock's) CPU per relayed chunk in µs: long minus 1-token streams."""
        if self.short is None:
            return None
        if keel:
            long, short = self.long.keel_cpu_s, self.short.keel_cpu_s
        else:
            long, short = self.long.mock_cpu_s, self.short.mock_cpu_s
        if long is None or short is None:
            return None
        return (long / self.long.count - short / self.short.count) / (tokens - SHORT) * 1e6


@dataclass
class Results:
    scenario: Scenario
    tokens: int
    targets: list[str]
    rounds: list[list[Sample]] = field(default_factory=list)
    idle: list[float | None] = field(default_factory=list)  # per target, CPU seconds per second idle


# --------------------------------------------------------------------------- the load client


def body(model: str, tokens: int) -> bytes:
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Tell me a story"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": tokens + 10,
        }
    ).encode()


def check(status: int, data: bytes, tokens: int) -> None:
    """A whole stream: a 200 ending in ``[DONE]``, an event per token at least, usage that says so."""
    at = data.rfind(b'"completion_tokens":')
    digits = data[at + 20 : at + 40].lstrip().split(b",", 1)[0].split(b"}", 1)[0] if at >= 0 else b""
    if (
        status != 200
        or not data.endswith(b"data: [DONE]\n\n")
        or data.count(b"data: ") < tokens + 2
        or digits.strip() != str(tokens).encode()
    ):
        raise RuntimeError(f"bad stream: {status} {data[-300:]!r}")


async def streams(
    url: str, payload: bytes, tokens: int, count: int, concurrency: int
) -> tuple[list[float], float]:
    """``count`` streams over ``concurrency`` connections, each read to its end and checked.

    Returns each stream's duration and the wall time from the first request to the last answer.
    """
    durations: list[float] = []
    left = iter(range(count))
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=600)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for _ in left:
                began = time.monotonic()
                async with session.post(url, data=payload, headers=headers) as response:
                    check(response.status, await response.read(), tokens)
                durations.append(time.monotonic() - began)

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return durations, time.monotonic() - began


def client_loop(conn: Connection) -> None:
    """A worker process: run each job sent, answer with the durations, wall time and own CPU."""
    while (job := conn.recv()) is not None:
        cpu = time.process_time()
        try:
            durations, wall = asyncio.run(streams(*job))
            conn.send(("ok", durations, wall, time.process_time() - cpu))
        except Exception as exc:  # reported to the parent, which stops the run
            conn.send(("error", f"{type(exc).__name__}: {exc}", 0.0, 0.0))


class Client:
    """Worker processes sharing each load: the connections and the streams split between them."""

    def __init__(self, processes: int) -> None:
        context = multiprocessing.get_context("fork")  # before any thread or event loop exists here
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(processes):
            mine, theirs = context.Pipe()
            process = context.Process(target=client_loop, args=(theirs,), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def run(
        self, url: str, model: str, tokens: int, count: int, concurrency: int
    ) -> tuple[float, float, float]:
        """Run the load; return (wall seconds, median seconds per stream, client CPU seconds)."""
        workers = min(len(self.pipes), concurrency)
        payload = body(model, tokens)
        shares = [concurrency // workers + (index < concurrency % workers) for index in range(workers)]
        counts = [count * share // concurrency for share in shares]
        for index in range(count - sum(counts)):
            counts[index] += 1
        for pipe, share, mine in zip(self.pipes, shares, counts, strict=False):
            pipe.send((url, payload, tokens, mine, share))
        answers = [pipe.recv() for pipe in self.pipes[:workers]]
        errors = [answer[1] for answer in answers if answer[0] == "error"]
        if errors:
            raise RuntimeError(f"{url} {model}: {errors[0]}")
        durations = [duration for answer in answers for duration in answer[1]]
        return max(answer[2] for answer in answers), statistics.median(durations), sum(a[3] for a in answers)

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.send(None)
            process.join(10)


# --------------------------------------------------------------------------- targets


def model_spec(tokens: int, token_ms: int) -> str:
    """The mock's model name (src/keel/mock/spec.py) for ``tokens`` tokens ``token_ms`` apart."""
    return f"ok:tokens={tokens}" + (f",token_ms={token_ms}" if token_ms else "")


def model_alias(tokens: int, token_ms: int) -> str:
    """Keel's model name for the same."""
    return f"t{tokens}" + (f"p{token_ms}" if token_ms else "")


SHAPES = [(LONG, 0), (SHORT, 0), (LONG, PACE_MS), (SHORT, PACE_MS), (RATE_TOKENS, 0)]


FLOOR = "floor (uvicorn+aiohttp relay, no parsing)"
RAW_FLOOR = "raw floor (asyncio Protocol byte relay)"
LEAN_FLOOR = "lean floor (asyncio Protocol relay that parses each event)"


@dataclass
class Target:
    name: str
    base: str
    process: subprocess.Popen[bytes] | None = None  # the keel serve (or floor proxy); None for direct
    aliases: bool = True  # Keel's model names; False: the mock's own (direct, the floor proxy)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def model(self, tokens: int, token_ms: int) -> str:
        return model_alias(tokens, token_ms) if self.aliases else model_spec(tokens, token_ms)


def serve(executable: str, index: int, mock_port: int, workdir: str) -> Target:
    """One ``keel serve`` (defaults, access log on) with a model for each stream shape."""
    models = ", ".join(
        f"{model_alias(tokens, pace)}: ['mock/{model_spec(tokens, pace)}']" for tokens, pace in SHAPES
    )
    config = Path(workdir, f"keel-{index}.yaml")
    config.write_text(
        f"providers: {{mock: {{profile: generic, base_url: 'http://127.0.0.1:{mock_port}/v1'}}}}\n"
        f"models: {{{models}}}\n"
        "pricing: {models: {mock/*: free}}\n"
        f"database: 'sqlite:///{workdir}/keel-{index}.db'\n"
    )
    port = free_port()
    process = start([executable, "serve", "--config", str(config), "--port", str(port)], port)
    return Target(executable, f"http://127.0.0.1:{port}/v1", process)


def floor(executable: str, mock_port: int) -> Target:
    """bench/minimal_proxy.py --stream in front of the mock, with ``executable``'s venv Python."""
    python = str(Path(executable).with_name("python"))
    script = str(Path(__file__).resolve().with_name("minimal_proxy.py"))
    upstream = f"http://127.0.0.1:{mock_port}/v1/chat/completions"
    port = free_port()
    process = start([python, script, "--stream", "--upstream", upstream, "--port", str(port)], port)
    return Target(FLOOR, f"http://127.0.0.1:{port}/v1", process, aliases=False)


def raw_floor(executable: str, mock_port: int, parse: bool = False) -> Target:
    """bench/raw_relay.py (bytes from socket to socket) in front of the mock."""
    python = str(Path(executable).with_name("python"))
    script = str(Path(__file__).resolve().with_name("raw_relay.py"))
    port = free_port()
    args = [python, script, "--upstream", f"127.0.0.1:{mock_port}", "--port", str(port)]
    process = start([*args, "--parse"] if parse else args, port)
    return Target(LEAN_FLOOR if parse else RAW_FLOOR, f"http://127.0.0.1:{port}/v1", process, aliases=False)


def measure(
    client: Client, target: Target, mock_pid: int, tokens: int, token_ms: int, count: int, c: int
) -> Run:
    """One load against one target, with the CPU that target's ``keel serve`` and the mock spent."""
    pid = target.pid
    keel_before = None if pid is None else cpu_seconds(pid)
    mock_before = cpu_seconds(mock_pid)
    wall, median, client_cpu = client.run(
        f"{target.base}/chat/completions", target.model(tokens, token_ms), tokens, count, c
    )
    keel_cpu = None if pid is None or keel_before is None else cpu_seconds(pid) - keel_before
    return Run(count, wall, median, client_cpu, keel_cpu, cpu_seconds(mock_pid) - mock_before)


# --------------------------------------------------------------------------- scenarios and report


def run_scenario(
    scenario: Scenario, options: argparse.Namespace, client: Client, targets: list[Target], mock_pid: int
) -> Results:
    c, pace = scenario.concurrency, scenario.token_ms
    if scenario.rate:
        tokens, long_count, short_count = RATE_TOKENS, options.rate_streams, 0
    else:
        tokens = LONG
        long_count = c if pace else options.streams or max(64, 2 * c)
        short_count = options.short_streams or max(400, 10 * c)
    print(
        f"\n[{scenario.name}] {tokens}-token streams at c={c}"
        + (f", {pace} ms between tokens" if pace else ", unpaced")
        + f": {long_count} per target per round"
        + (f", and {short_count} 1-token streams" if short_count else "")
        + f"; {options.rounds} rounds",
        flush=True,
    )
    for target in targets:  # warm-up: connections, caches, the first use of each path
        client.run(f"{target.base}/chat/completions", target.model(SHORT, pace), SHORT, 2 * c, c)
        if not pace:
            client.run(f"{target.base}/chat/completions", target.model(tokens, 0), tokens, c, c)
    results = Results(scenario, tokens, [target.name for target in targets])
    if not scenario.rate:
        results.idle = idle_rates(targets, options.idle_seconds)
    for number in range(options.rounds):
        samples = []
        for target in targets:
            sample = Sample(measure(client, target, mock_pid, tokens, pace, long_count, c))
            if short_count:
                sample.short = measure(client, target, mock_pid, SHORT, pace, short_count, c)
            samples.append(sample)
        results.rounds.append(samples)
        print(f"  round {number + 1}: " + round_line(results, samples), flush=True)
    report(results)
    return results


def idle_rates(targets: list[Target], seconds: float) -> list[float | None]:
    """Each ``keel serve``'s CPU per second with no load (all measured at once), or None."""
    if seconds <= 0:
        return [None] * len(targets)
    before = [None if target.pid is None else cpu_seconds(target.pid) for target in targets]
    time.sleep(seconds)
    return [
        None if target.pid is None or start is None else (cpu_seconds(target.pid) - start) / seconds
        for target, start in zip(targets, before, strict=True)
    ]


def round_line(results: Results, samples: list[Sample]) -> str:
    parts = []
    for sample in samples:
        if results.scenario.rate:
            parts.append(f"{sample.long.rate:.0f}/s")
        else:
            keel = sample.per_chunk_us(True, results.tokens)
            parts.append("direct" if keel is None else f"{keel:.1f} µs/chunk")
            parts[-1] += f" ({sample.long.rate:.2f}/s)"
    return ", ".join(parts)


def median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def ratio(numerators: list[float | None], denominators: list[float | None]) -> float | None:
    """The median of in-round ratios."""
    return median(
        [n / d if n is not None and d else None for n, d in zip(numerators, denominators, strict=True)]
    )


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(results: Results) -> None:
    """A markdown table: per target the medians over rounds and the in-round ratios."""
    rounds, tokens = results.rounds, results.tokens

    def column(index: int, figure: str) -> list[float | None]:
        values: list[float | None] = []
        for samples in rounds:
            sample = samples[index]
            if figure == "keel_chunk":
                values.append(sample.per_chunk_us(True, tokens))
            elif figure == "mock_chunk":
                values.append(sample.per_chunk_us(False, tokens))
            elif figure == "keel_stream":
                cpu = sample.long.keel_cpu_s
                values.append(None if cpu is None else cpu / sample.long.count * 1000)
            elif figure == "mock_stream":
                values.append(sample.long.mock_cpu_s / sample.long.count * 1000)
            elif figure == "short_stream":
                cpu = sample.short.keel_cpu_s if sample.short else None
                values.append(
                    None if cpu is None or sample.short is None else cpu / sample.short.count * 1000
                )
            elif figure == "rate":
                values.append(sample.long.rate)
            elif figure == "median":
                values.append(sample.long.median_stream_s)
            elif figure == "idle_chunk":
                rate = results.idle[index] if results.idle else None
                values.append(
                    None
                    if rate is None or index == 0
                    else rate * sample.long.wall_s / (sample.long.count * (tokens - SHORT)) * 1e6
                )
            elif figure == "client":
                values.append(sample.long.client_cpu_s / sample.long.wall_s)
        return values

    scenario = results.scenario
    print(
        f"\n{scenario.name}: median over {len(rounds)} rounds; "
        "x first / x direct = median of in-round ratios\n"
    )
    if scenario.rate:
        print(
            "| target | streams/s | x first | x direct | Keel CPU ms/stream | mock CPU ms/stream "
            "| client cores |"
        )
        print("|---|---|---|---|---|---|---|")
    else:
        print(
            "| target | Keel µs/chunk | of it idle | x first | x mock | mock µs/chunk "
            "| Keel ms/stream (1000 / 1 tok) | streams/s | x direct | median s/stream | x direct "
            "| client cores |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    first = 1  # targets[0] is direct
    for index, name in enumerate(results.targets):
        label = "direct (no Keel)" if index == 0 else name
        rate, direct_rate = column(index, "rate"), column(0, "rate")
        x_first = ratio(column(index, "keel_chunk"), column(first, "keel_chunk")) if index else None
        client = fmt(median(column(index, "client")), ".2f")
        if scenario.rate:
            x_first = ratio(rate, column(first, "rate")) if index else None
            print(
                f"| {label} | {fmt(median(rate), '.1f')} | {fmt(x_first, '.3f')} "
                f"| {fmt(ratio(rate, direct_rate) if index else None, '.3f')} "
                f"| {fmt(median(column(index, 'keel_stream')), '.3f')} "
                f"| {fmt(median(column(index, 'mock_stream')), '.3f')} | {client} |"
            )
            continue
        keel_chunk, mock_chunk = column(index, "keel_chunk"), column(index, "mock_chunk")
        durations = column(index, "median")
        keel_long, keel_short = median(column(index, "keel_stream")), median(column(index, "short_stream"))
        x_duration = ratio(durations, column(0, "median")) if index else None
        print(
            f"| {label} | {fmt(median(keel_chunk), '.1f')} "
            f"| {fmt(median(column(index, 'idle_chunk')), '.1f')} "
            f"| {fmt(x_first, '.3f')} "
            f"| {fmt(ratio(keel_chunk, mock_chunk), '.2f')} | {fmt(median(mock_chunk), '.1f')} "
            f"| {fmt(keel_long, '.2f')} / {fmt(keel_short, '.3f')} "
            f"| {fmt(median(rate), '.2f')} | {fmt(ratio(rate, direct_rate) if index else None, '.3f')} "
            f"| {fmt(median(durations), '.3f')} | {fmt(x_duration, '.2f')} "
            f"| {client} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--keel", action="append", help="a keel executable (repeat to compare)")
    parser.add_argument("--scenarios", default="unpaced-8,unpaced-64,paced-8,paced-64,rate-20")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--streams", type=int, help="unpaced 1,000-token streams per run (default max(64, 2c))"
    )
    parser.add_argument("--short-streams", type=int, help="1-token streams per run (default max(400, 10c))")
    parser.add_argument("--rate-streams", type=int, default=1600, help="20-token streams per rate-20 run")
    parser.add_argument("--client-processes", type=int, default=2, help="load-client worker processes")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="per scenario, seconds of no load to measure each Keel's background CPU (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="write every run's raw figures here")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="add bench/minimal_proxy.py --stream (no parsing) as one more target in every round",
    )
    parser.add_argument(
        "--floor-raw",
        action="store_true",
        help="add bench/raw_relay.py (bytes socket to socket, no HTTP stack) as one more target",
    )
    parser.add_argument(
        "--floor-lean",
        action="store_true",
        help="add bench/raw_relay.py --parse (bytes socket to socket, each event parsed) as one more target",
    )
    options = parser.parse_args()
    names = options.scenarios.split(",")
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {','.join(SCENARIOS)}")
    executables = options.keel or [str(Path(sys.executable).with_name("keel"))]
    client = Client(options.client_processes)  # forked first: the parent has no thread or loop yet
    mock_port = free_port()
    mock = start([executables[0], "mock", "--fast", "--port", str(mock_port)], mock_port)
    workdir = tempfile.mkdtemp(prefix="keel-long-stream-")
    targets = [Target("direct", f"http://127.0.0.1:{mock_port}/v1", aliases=False)]
    everything: list[Results] = []
    try:
        for index, executable in enumerate(executables):
            targets.append(serve(executable, index, mock_port, workdir))
        if options.floor:
            targets.append(floor(executables[0], mock_port))
        if options.floor_raw:
            targets.append(raw_floor(executables[0], mock_port))
        if options.floor_lean:
            targets.append(raw_floor(executables[0], mock_port, parse=True))
        for name in names:
            everything.append(run_scenario(SCENARIOS[name], options, client, targets, mock.pid))
    finally:
        for target in targets:
            if target.process is not None:
                target.process.terminate()
                target.process.wait(10)
        mock.terminate()
        mock.wait(10)
        client.close()
        if options.json:
            options.json.write_text(
                json.dumps(
                    [
                        {
                            "scenario": asdict(results.scenario),
                            "tokens": results.tokens,
                            "targets": results.targets,
                            "idle_cpu_per_s": results.idle,
                            "rounds": [[asdict(sample) for sample in samples] for samples in results.rounds],
                        }
                        for results in everything
                    ],
                    indent=1,
                )
            )


if __name__ == "__main__":
    main()
