#!/usr/bin/env python3
"""Keel's gateway benchmark: Keel against a direct call and against LiteLLM's proxy, interleaved.

Starts a static nginx upstream on loopback (bench/upstream.py), one Keel worker and one LiteLLM
worker in front of it, then for each scenario runs rounds of direct → Keel → LiteLLM (and a closing
direct run), so that every gateway figure has direct figures taken just before and just after it.
Per round it takes ratios and differences against the mean of those two direct runs, and reports
the median over rounds. Load comes from wrk (bench/wrk/chat.lua), the time to first streamed data
from bench/ttfb.py; CPU time and resident memory of each gateway's processes from /proc.

    bench/setup.sh                 # once: nginx, wrk, LiteLLM in bench/.venv-litellm
    python3 bench/run.py --quick   # ~4 minutes
    python3 bench/run.py           # the full run: 5 rounds of 15 s, a 100,000-request soak

By default the whole run happens in a private network namespace with only loopback up (unshare),
so nothing it starts can reach any other address. Each run writes bench/results/<stamp>.json and
prints a markdown table; gateway logs go to bench/results/logs/<stamp>/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import ttfb  # noqa: E402
from upstream import Upstream, free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MASTER_KEY = "sk-bench-master-0123456789"
LUA = BENCH / "wrk" / "chat.lua"
KEEL_BIN = ROOT / ".venv" / "bin" / "keel"
LITELLM_BIN = BENCH / ".venv-litellm" / "bin" / "litellm"

BODIES = {
    "json": {
        "model": "bench-json",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 16,
    },
    "sse": {
        "model": "bench-sse",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 32,
        "stream": True,
    },
    "slow": {
        "model": "bench-slow",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 16,
    },
}
EXPECT = {"json": '"choices"', "sse": "[DONE]", "slow": '"choices"'}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    workload: str  # a BODIES key
    connections: int = 1  # wrk connections; 0 = the sequential time-to-first-data client


SCENARIOS = [
    Scenario("c1", "non-streamed, concurrency 1", "json", 1),
    Scenario("c32", "non-streamed, concurrency 32", "json", 32),
    Scenario("c128", "non-streamed, concurrency 128", "json", 128),
    Scenario("stream_c8", "streamed (20 events), concurrency 8", "sse", 8),
    Scenario("ttfb", "time to first streamed data, sequential", "sse", 0),
    Scenario("slow_c64", "100 ms upstream, concurrency 64", "slow", 64),
]


# --------------------------------------------------------------------------- processes and /proc


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    children, tree, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of the processes, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
        except (OSError, IndexError, ValueError):
            pass
    return total


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


class Service:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.name, self.cmd, self.env, self.log_path, self.cwd = name, cmd, env, log, cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")
        log.write(f"\n=== {datetime.now().isoformat()} start: {' '.join(self.cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pids(self) -> list[int]:
        return process_tree(self.pid) if self.alive() else []

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str  # direct | keel | keel-base | litellm
    label: str
    urls: dict[str, str]  # workload -> URL
    service: Service | None = None  # None for direct
    health_url: str | None = None
    problems: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def pids(self, upstream: Upstream) -> list[int]:
        if self.service is None:  # direct: account nginx's CPU, for reference
            return [p for pid in upstream.pids() for p in process_tree(pid)]
        return self.service.pids()


def http_post(url: str, body: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def wait_healthy(target: Target, timeout: float) -> None:
    assert target.service is not None and target.health_url is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not target.service.alive():
            raise RuntimeError(f"{target.label} exited during startup:\n{target.service.log_tail()}")
        try:
            with urllib.request.urlopen(target.health_url, timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{target.label} not healthy after {timeout:.0f} s:\n{target.service.log_tail()}")


def validate(target: Target, bodies: dict[str, bytes]) -> dict:
    """One request per workload: a 200 with the expected content; returns what the gateway said."""
    seen = {}
    for workload, body in bodies.items():
        status, headers, data = http_post(target.urls[workload], body)
        ok = status == 200 and EXPECT[workload].encode() in data
        if workload == "sse":
            ok = ok and data.count(b"data:") >= 3
        seen[workload] = {
            "status": status,
            "ok": ok,
            "headers": {
                k: v
                for k, v in headers.items()
                if k.startswith(("x-keel", "x-litellm-version", "content-type"))
            },
            "body_bytes": len(data),
            "data_events": data.count(b"data:") if workload == "sse" else None,
        }
        if not ok:
            raise RuntimeError(f"{target.label} answered {workload} with {status}: {data[:500]!r}")
    return seen


# --------------------------------------------------------------------------- load


def run_wrk(
    url: str, body_path: Path, workload: str, connections: int, seconds: float, threads: int, workdir: Path
) -> dict:
    out = workdir / "wrk-out.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_BODY": str(body_path),
        "BENCH_AUTH": MASTER_KEY,
        "BENCH_EXPECT": EXPECT[workload],
        "BENCH_OUT": str(out),
    }
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        url,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    result = json.loads(out.read_text())
    lat = result["latency_us"]
    result["p50_ms"], result["p99_ms"], result["mean_ms"] = (
        lat["p50"] / 1000,
        lat["p99"] / 1000,
        lat["mean"] / 1000,
    )
    return result


def measure(
    target: Target,
    scenario: Scenario,
    args: argparse.Namespace,
    upstream: Upstream,
    body_paths: dict[str, Path],
    workdir: Path,
    seconds: float,
    requests: int,
) -> dict:
    """One measured run of one scenario against one target, with the target's CPU time."""
    pids = target.pids(upstream)
    ticks0, wall0 = cpu_ticks(pids), time.monotonic()
    url = target.urls[scenario.workload]
    if scenario.connections == 0:
        result = ttfb.measure(url, body_paths[scenario.workload].read_bytes(), requests, MASTER_KEY, warmup=3)
        served = result["requests"] + 3
        result["rps"] = served / (time.monotonic() - wall0)
    else:
        result = run_wrk(
            url,
            body_paths[scenario.workload],
            scenario.workload,
            scenario.connections,
            seconds,
            args.wrk_threads,
            workdir,
        )
        served = result["requests"]
    wall = time.monotonic() - wall0
    ticks = cpu_ticks(pids) - ticks0
    result["cpu_s"] = ticks / CLK_TCK
    result["cpu_util"] = ticks / CLK_TCK / wall
    result["cpu_ms_per_req"] = ticks / CLK_TCK * 1000 / served if served else None
    result["rss_mb"] = rss_kb(pids) / 1024
    result["wall_s"] = wall
    return result


def scan_log(path: Path) -> dict:
    """What a gateway's log says about the run: Keel's access-log statuses and stream outcomes, and
    the lines that look like errors (tracebacks, ERROR, CRITICAL)."""
    statuses: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    errors: list[str] = []
    error_lines = 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if "event='request'" in line:
                    status = re.search(r"\bstatus=(\d+)", line)
                    if status:
                        statuses[status.group(1)] = statuses.get(status.group(1), 0) + 1
                    outcome = re.search(r"\boutcome='([^']*)'", line)
                    if outcome:
                        outcomes[outcome.group(1)] = outcomes.get(outcome.group(1), 0) + 1
                    if status and status.group(1) not in ("200", "499") and len(errors) < 10:
                        errors.append(line.strip()[:500])
                elif re.search(r"Traceback|\bERROR\b|\bCRITICAL\b|Exception", line):
                    error_lines += 1
                    if len(errors) < 10:
                        errors.append(line.strip()[:500])
    except OSError:
        pass
    return {"access_statuses": statuses, "outcomes": outcomes, "error_lines": error_lines, "samples": errors}


def problems_of(target: Target, scenario: str, result: dict) -> list[str]:
    found = []
    if scenario != "ttfb":
        errors = {k: v for k, v in result["errors"].items() if v}
        statuses = {k: v for k, v in result["statuses"].items() if k != "200"}
        if errors or statuses or result["bad_body"]:
            found.append(
                f"{target.label} {scenario}: {result['requests']} responses, non-200 {statuses or 'none'}, "
                f"socket errors {errors or 'none'}, bad bodies {result['bad_body']}"
                + (f", e.g. {result['bad_samples'][0][:300]!r}" if result.get("bad_samples") else "")
            )
    elif result["failures"]:
        found.append(f"{target.label} ttfb: failures {result['failures']}, e.g. {result['failure_sample']}")
    return found


# --------------------------------------------------------------------------- summary


def med(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def metric_of(scenario: Scenario, result: dict, metric: str) -> float | None:
    if scenario.connections == 0:
        if metric in ("first_p50_ms", "first_p99_ms"):
            return result["first_ms"].get(metric.split("_")[1]) if result["first_ms"] else None
        if metric == "overhead_p50_ms":
            return (result.get("overhead_ms") or {}).get("p50")
    return result.get(metric)


METRICS = {
    "c1": ["p50_ms", "p99_ms", "rps", "cpu_ms_per_req"],
    "c32": ["rps", "p50_ms", "p99_ms", "cpu_ms_per_req"],
    "c128": ["rps", "p50_ms", "p99_ms", "cpu_ms_per_req"],
    "stream_c8": ["rps", "p50_ms", "p99_ms", "cpu_ms_per_req"],
    "ttfb": ["first_p50_ms", "first_p99_ms", "overhead_p50_ms", "cpu_ms_per_req"],
    "slow_c64": ["rps", "p50_ms", "p99_ms", "cpu_ms_per_req"],
}


def summarize(runs: dict, names: list[str]) -> dict:
    """Per scenario and metric: each target's median over rounds, and the medians of the in-round
    ratios (gateway / direct, Keel / LiteLLM, Keel / Keel base) and differences (gateway - direct)."""
    summary: dict = {}
    for scenario in SCENARIOS:
        if scenario.name not in runs:
            continue
        rounds = runs[scenario.name]["rounds"]
        closing = runs[scenario.name].get("closing_direct")
        out: dict = {}
        for metric in METRICS[scenario.name]:
            per = {t: [metric_of(scenario, r[t], metric) if t in r else None for r in rounds] for t in names}
            entry: dict = {"median": {t: med(v) for t, v in per.items()}, "rounds": per}
            if "direct" in names:
                direct_runs = per["direct"] + ([metric_of(scenario, closing, metric)] if closing else [])
                refs = []
                for i in range(len(rounds)):
                    pair = [v for v in direct_runs[i : i + 2] if v is not None]
                    refs.append(statistics.fmean(pair) if pair else None)
                for t in names:
                    if t == "direct":
                        continue
                    ratios = [
                        g / d if g is not None and d else None for g, d in zip(per[t], refs, strict=False)
                    ]
                    diffs = [
                        g - d if g is not None and d is not None else None
                        for g, d in zip(per[t], refs, strict=False)
                    ]
                    entry[f"{t}_vs_direct_ratio"] = med(ratios)
                    entry[f"{t}_minus_direct"] = med(diffs)
            for other in ("litellm", "keel-base"):
                if "keel" in names and other in names:
                    ratios = [
                        k / o if k is not None and o else None
                        for k, o in zip(per["keel"], per[other], strict=False)
                    ]
                    entry[f"keel_vs_{other}_ratio"] = med(ratios)
            out[metric] = entry
        summary[scenario.name] = out
    return summary


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def table(summary: dict, memory: dict, names: list[str], labels: dict[str, str]) -> str:
    gws = [t for t in names if t != "direct"]
    head = ["scenario", "figure"] + [labels[t] for t in names]
    if "direct" in names:
        head += [f"{labels[t]} vs direct" for t in gws]
    others = [t for t in ("litellm", "keel-base") if "keel" in names and t in names]
    head += [f"Keel / {labels[t]}" for t in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(scenario: str, metric: str, title: str, kind: str) -> None:
        entry = summary.get(scenario, {}).get(metric)
        if entry is None:
            return
        cells = [scenario, title] + [fmt(entry["median"][t], 3 if "ms" in metric else 2) for t in names]
        if "direct" in names:
            for t in gws:
                if kind == "diff":
                    d = entry.get(f"{t}_minus_direct")
                    cells.append("–" if d is None else f"{d:+.3f} ms" if abs(d) < 10 else f"{d:+.1f} ms")
                elif kind == "ratio":
                    r = entry.get(f"{t}_vs_direct_ratio")
                    cells.append("–" if r is None else f"{r:.3f}×" if r >= 0.1 else f"{r:.4f}×")
                else:
                    cells.append("")
        for t in others:
            r = entry.get(f"keel_vs_{t}_ratio")
            cells.append("–" if r is None else f"{r:.2f}×" if r < 100 else f"{r:.0f}×")
        lines.append("| " + " | ".join(cells) + " |")

    row("c1", "p50_ms", "latency p50 (ms)", "diff")
    row("c1", "p99_ms", "latency p99 (ms)", "diff")
    row("c1", "cpu_ms_per_req", "CPU ms/request", "none")
    for s in ("c32", "c128"):
        row(s, "rps", "requests/s", "ratio")
        row(s, "p99_ms", "latency p99 (ms)", "diff")
        row(s, "cpu_ms_per_req", "CPU ms/request", "none")
    row("stream_c8", "rps", "streams/s", "ratio")
    row("stream_c8", "p99_ms", "stream p99 (ms)", "diff")
    row("stream_c8", "cpu_ms_per_req", "CPU ms/stream", "none")
    row("ttfb", "first_p50_ms", "first data p50 (ms)", "diff")
    row("ttfb", "first_p99_ms", "first data p99 (ms)", "diff")
    row("ttfb", "overhead_p50_ms", "x-keel-overhead-ms p50", "none")
    row("slow_c64", "rps", "requests/s", "ratio")
    row("slow_c64", "p99_ms", "latency p99 (ms)", "diff")
    row("slow_c64", "cpu_ms_per_req", "CPU ms/request", "none")
    for key, title in (
        ("idle_mb", "RSS idle (MB)"),
        ("after_load_mb", "RSS after load (MB)"),
        ("after_soak_mb", "RSS after soak (MB)"),
    ):
        if any(key in memory.get(t, {}) for t in gws):
            cells = ["memory", title] + [
                "–" if t == "direct" else fmt(memory.get(t, {}).get(key), 1) for t in names
            ]
            cells += [""] * (len(head) - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
    if any("soak_requests" in memory.get(t, {}) for t in gws):
        cells = ["memory", "soak requests"] + [
            "–" if t == "direct" else f"{memory.get(t, {}).get('soak_requests', 0):,}" for t in names
        ]
        cells += [""] * (len(head) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def versions() -> dict:
    def out(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            return (p.stdout + p.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unavailable: {exc}"

    meta = {
        "nginx": out(["nginx", "-v"]).rsplit("/", 1)[-1],
        "wrk": out(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else None,
        "litellm": out(
            [
                str(BENCH / ".venv-litellm/bin/python"),
                "-c",
                "import importlib.metadata as m; print(m.version('litellm'))",
            ]
        ),
        "keel": out(
            [str(ROOT / ".venv/bin/python"), "-c", "import importlib.metadata as m; print(m.version('keel'))"]
        ),
        "keel_git": out(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "keel_git_dirty": bool(out(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"])),
        # the tree is shared and changing: a digest of src/ as run (tracked diff and untracked files)
        "keel_src_digest": out(
            [
                "sh",
                "-c",
                f"cd {ROOT} && (git diff HEAD -- src; git ls-files -o --exclude-standard -z src "
                "| xargs -0 -r cat) | sha256sum | cut -c1-16",
            ]
        ),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "nproc": os.cpu_count(),
    }
    try:
        cpu = [
            line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")
        ]
        meta["cpu"] = cpu[0].split(":", 1)[1].strip() if cpu else None
    except OSError:
        pass
    return meta


def in_netns_or_reexec(args: argparse.Namespace) -> None:
    """Re-run this script in a private network namespace where only loopback is up."""
    if args.no_netns or os.environ.get("KEEL_BENCH_NETNS") == "1":
        return
    if (
        not shutil.which("unshare")
        or subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0
    ):
        print(
            "bench: cannot make a private network namespace (unshare); running in this one", file=sys.stderr
        )
        return
    env = {**os.environ, "KEEL_BENCH_NETNS": "1"}
    cmd = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$0" "$@"',
        sys.executable,
        *sys.argv,
    ]
    os.execvpe("unshare", cmd, env)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="3 rounds of 3 s, a short soak: ~4 minutes")
    p.add_argument("--rounds", type=int, help="interleaved rounds per scenario (default 5; quick 3)")
    p.add_argument("--duration", type=float, help="seconds per wrk run (default 15; quick 3)")
    p.add_argument(
        "--warmup",
        type=float,
        help="seconds of untimed load per target before a scenario (default 3; quick 1)",
    )
    p.add_argument(
        "--ttfb-requests",
        type=int,
        help="sequential streams per time-to-first-data run (default 300; quick 60)",
    )
    p.add_argument(
        "--soak-requests", type=int, help="requests per gateway in the soak (default 100000; quick 5000)"
    )
    p.add_argument(
        "--soak-max-seconds",
        type=float,
        help="stop a gateway's soak after this long (default 1500; quick 45)",
    )
    p.add_argument("--soak-connections", type=int, default=32)
    p.add_argument("--soak-targets", default="keel,litellm", help="gateways to soak (empty: none)")
    p.add_argument(
        "--targets",
        default="direct,keel,litellm",
        help="comma list of direct, keel, keel-base (needs --keel-base), litellm, run in this order",
    )
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS), help="comma list of scenarios")
    p.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (the load generator shares the 2 cores)"
    )
    p.add_argument("--keel-log-level", default="info", help="keel serve --log-level (info: with access logs)")
    p.add_argument("--keel-config", type=Path, default=BENCH / "keel.bench.yaml", help="Keel's config")
    p.add_argument(
        "--keel-base",
        type=Path,
        help="a second keel executable (e.g. another checkout's .venv/bin/keel): target keel-base, "
        "started like keel, reported with the in-round ratio Keel / Keel base",
    )
    p.add_argument("--stop-timeout", type=float, default=60.0, help="seconds from SIGTERM to SIGKILL")
    p.add_argument("--no-netns", action="store_true", help="run in the current network namespace")
    p.add_argument("--out", type=Path, help="results JSON (default bench/results/<stamp>.json)")
    args = p.parse_args()
    quick = args.quick
    defaults = {
        "rounds": 3 if quick else 5,
        "duration": 3.0 if quick else 15.0,
        "warmup": 1.0 if quick else 3.0,
        "ttfb_requests": 60 if quick else 300,
        "soak_requests": 5000 if quick else 100_000,
        "soak_max_seconds": 45.0 if quick else 1500.0,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.keel_base:  # the gateways run with the work directory as their cwd
        args.keel_base = args.keel_base.absolute()
    return args


def main() -> int:
    args = parse_args()
    in_netns_or_reexec(args)
    names = [t for t in args.targets.split(",") if t]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios.split(",")]
    if args.keel_base and "keel-base" not in names:
        names.insert(names.index("keel") + 1 if "keel" in names else len(names), "keel-base")
    unknown = set(names) - {"direct", "keel", "litellm"} - ({"keel-base"} if args.keel_base else set())
    if unknown or not names:
        hint = " (keel-base needs --keel-base)" if "keel-base" in unknown else ""
        sys.exit(f"unknown targets {unknown}{hint}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    out_path = args.out or BENCH / "results" / f"{stamp}.json"
    logdir = BENCH / "results" / "logs" / stamp
    logdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="keel-bench-"))

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    body_paths = {}
    for workload, body in BODIES.items():
        body_paths[workload] = workdir / f"{workload}.json"
        body_paths[workload].write_text(json.dumps(body))
    bodies = {w: p.read_bytes() for w, p in body_paths.items()}

    results: dict = {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "netns": os.environ.get("KEEL_BENCH_NETNS") == "1",
            "loadavg_start": os.getloadavg(),
            **versions(),
        },
        "runs": {},
        "memory": {},
        "soak": {},
        "problems": [],
        "logs": str(logdir.relative_to(ROOT)),
    }
    labels = {"direct": "direct", "keel": "Keel", "keel-base": "Keel base", "litellm": "LiteLLM"}
    if args.keel_base:
        results["meta"]["keel_base"] = {
            "exe": str(args.keel_base),
            "git": subprocess.run(
                ["git", "-C", str(args.keel_base.parents[2]), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            or None,
        }
    upstream = Upstream()
    targets: dict[str, Target] = {}
    t_start = time.monotonic()
    try:
        upstream.start()
        print(
            f"bench: upstream nginx on {upstream.base} (100 ms path: {'echo_sleep' if upstream.echo else 'aiohttp'})",
            flush=True,
        )
        if "direct" in names:
            targets["direct"] = Target(
                "direct",
                "direct",
                {"json": upstream.json_url, "sse": upstream.sse_url, "slow": upstream.slow_url},
            )
        # keel-base: a second Keel executable (another checkout), started exactly like keel but with
        # its own ledger database (BENCH_WORKDIR), so neither reads the other's schema
        keels = {"keel": (KEEL_BIN, workdir), "keel-base": (args.keel_base, workdir / "keel-base")}
        for name in [n for n in names if n in keels]:
            exe, keel_workdir = keels[name]
            keel_workdir.mkdir(exist_ok=True)
            port = free_port()
            env = {
                "BENCH_UPSTREAM": upstream.base,
                "BENCH_UPSTREAM_SLOW": upstream.slow_base,
                "BENCH_MASTER_KEY": MASTER_KEY,
                "BENCH_WORKDIR": str(keel_workdir),
            }
            cmd = [
                str(exe),
                "serve",
                "--config",
                str(args.keel_config),
                "--port",
                str(port),
                "--log-level",
                args.keel_log_level,
            ]
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            targets[name] = Target(
                name,
                labels[name],
                dict.fromkeys(BODIES, url),
                Service(name, cmd, env, logdir / f"{name}.log", workdir),
                f"http://127.0.0.1:{port}/healthz",
            )
        if "litellm" in names:
            port = free_port()
            env = {
                "BENCH_UPSTREAM_V1": f"{upstream.base}/v1",
                "BENCH_UPSTREAM_SSE": f"{upstream.base}/sse/v1",
                "BENCH_UPSTREAM_SLOW": upstream.slow_base,
                "BENCH_MASTER_KEY": MASTER_KEY,
                # no remote fetches: the bundled cost map and the other bundled lists
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
                "LITELLM_LOCAL_BLOG_POSTS": "True",
                "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
                "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
                "LITELLM_TELEMETRY": "False",  # telemetry is a no-op flag in recent versions; kept for older pins
                "LITELLM_MODE": "PRODUCTION",  # do not load a .env file
                "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
            }
            cmd = [
                str(LITELLM_BIN),
                "--config",
                str(BENCH / "litellm.bench.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ]
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            targets["litellm"] = Target(
                "litellm",
                "LiteLLM",
                dict.fromkeys(BODIES, url),
                Service("litellm", cmd, env, logdir / "litellm.log", workdir),
                f"http://127.0.0.1:{port}/health/liveliness",
            )
        for t in targets.values():
            if t.service is not None:
                t0 = time.monotonic()
                t.service.start()
                wait_healthy(t, 120)
                t.info["startup_s"] = round(time.monotonic() - t0, 2)
            t.info["validation"] = validate(t, bodies)
            if t.service is not None:
                results["memory"][t.name] = {
                    "idle_mb": rss_kb(t.service.pids()) / 1024,
                    "processes": len(t.service.pids()),
                }
            print(f"bench: {t.label} ready at {t.urls['json']}", flush=True)

        order = [targets[n] for n in names if n in targets]
        for scenario in scenarios:
            print(f"bench: {scenario.name}: {scenario.title}", flush=True)
            runs: dict = {"rounds": []}
            for t in order:  # warm up: connections, pools, caches
                measure(
                    t,
                    scenario,
                    args,
                    upstream,
                    body_paths,
                    workdir,
                    args.warmup,
                    max(10, args.ttfb_requests // 5),
                )
            for r in range(args.rounds):
                round_: dict = {}
                for t in order:
                    result = ensure_up_and_measure(t, scenario, args, upstream, body_paths, workdir, results)
                    if result is None:
                        continue
                    round_[t.name] = result
                    for problem in problems_of(t, scenario.name, result):
                        results["problems"].append(problem)
                        print(f"bench: PROBLEM {problem}", flush=True)
                    print(f"  round {r + 1} {t.label:8} {brief(scenario, result)}", flush=True)
                runs["rounds"].append(round_)
            if "direct" in targets:
                runs["closing_direct"] = measure(
                    targets["direct"],
                    scenario,
                    args,
                    upstream,
                    body_paths,
                    workdir,
                    args.duration,
                    args.ttfb_requests,
                )
                print(f"  closing  direct   {brief(scenario, runs['closing_direct'])}", flush=True)
            results["runs"][scenario.name] = runs

        for t in order:
            if t.service is not None and t.service.alive():
                results["memory"][t.name]["after_load_mb"] = rss_kb(t.service.pids()) / 1024

        soak_names = [n for n in args.soak_targets.split(",") if n in targets and n != "direct"]
        for name in soak_names:
            results["soak"][name] = soak(targets[name], args, body_paths, workdir, results)
            mem = results["memory"][name]
            mem["after_soak_mb"] = (
                results["soak"][name]["rss_mb"][-1] if results["soak"][name]["rss_mb"] else None
            )
            mem["soak_requests"] = results["soak"][name]["requests"]

        for t in order:
            if t.service is not None:
                alive = t.service.alive()
                stop0 = time.monotonic()
                code = t.service.stop(timeout=args.stop_timeout)
                t.info["exit_code"] = code
                t.info["shutdown_s"] = round(time.monotonic() - stop0, 2)
                t.info["log"] = scan_log(t.service.log_path)
                # 499 (outcome client_closed) is wrk cutting its in-flight requests when a run ends
                bad = {k: v for k, v in t.info["log"]["access_statuses"].items() if k not in ("200", "499")}
                if bad or t.info["log"]["error_lines"]:
                    results["problems"].append(
                        f"{t.label} log: non-200 access lines {bad or 'none'}, {t.info['log']['error_lines']} error lines; "
                        f"e.g. {t.info['log']['samples'][:3]}"
                    )
                if not alive:
                    results["problems"].append(f"{t.label} was not running at the end (exit {code})")
                elif code not in (0, -signal.SIGTERM):
                    results["problems"].append(
                        f"{t.label} exited with {code} on SIGTERM"
                        + (
                            f" (killed: not stopped {args.stop_timeout:g} s after SIGTERM)"
                            if code == -9
                            else ""
                        )
                    )
    except KeyboardInterrupt:
        results["problems"].append("interrupted")
        print("bench: interrupted", file=sys.stderr)
    except Exception as exc:  # the partial results are still written
        results["problems"].append(f"harness error: {exc!r}")
        traceback.print_exc()
    finally:
        for t in targets.values():
            if t.service is not None:
                t.service.stop(timeout=10)
        upstream.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    results["targets"] = {n: {"label": t.label, **t.info} for n, t in targets.items()}
    results["meta"]["elapsed_s"] = round(time.monotonic() - t_start, 1)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["summary"] = summarize(results["runs"], [n for n in names if n in targets])
    results["table"] = table(
        results["summary"], results["memory"], [n for n in names if n in targets], labels
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print()
    print(results["table"])
    print()
    print(
        f"wrk -t{args.wrk_threads}, {args.rounds} rounds of {args.duration:g} s; medians over rounds; "
        f"'vs direct' is the median of in-round ratios (or differences) against the mean of the direct "
        f"runs before and after; CPU is the gateway's processes (direct: nginx's)."
    )
    if results["problems"]:
        print("\nPROBLEMS:")
        for problem in results["problems"]:
            print(f"- {problem}")
    print(
        f"\nresults: {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}; logs: {results['logs']}"
    )
    return 1 if results["problems"] else 0


def brief(scenario: Scenario, result: dict) -> str:
    cpu = result.get("cpu_ms_per_req")
    cpu_s = f"cpu {cpu:.3f} ms/req" if cpu is not None else ""
    if scenario.connections == 0:
        first = result["first_ms"]
        return f"first data p50 {first.get('p50', float('nan')):.3f} ms p99 {first.get('p99', float('nan')):.3f} ms  {cpu_s}"
    bad = sum(v for k, v in result["statuses"].items() if k != "200") + sum(result["errors"].values())
    return (
        f"{result['rps']:9.1f} req/s  p50 {result['p50_ms']:.3f} ms  p99 {result['p99_ms']:.3f} ms  {cpu_s}"
        + (f"  NON-200/ERRORS {bad}" if bad else "")
    )


def ensure_up_and_measure(
    t: Target,
    scenario: Scenario,
    args: argparse.Namespace,
    upstream: Upstream,
    body_paths: dict[str, Path],
    workdir: Path,
    results: dict,
) -> dict | None:
    """Measure; a gateway found dead is reported, restarted once, and its run skipped."""
    if t.service is not None and not t.service.alive():
        problem = f"{t.label} died before {scenario.name} (exit {t.service.proc.returncode}); log tail:\n{t.service.log_tail(15)}"
        results["problems"].append(problem)
        print(f"bench: PROBLEM {problem}", flush=True)
        t.service.start()
        wait_healthy(t, 120)
        return None
    result = measure(t, scenario, args, upstream, body_paths, workdir, args.duration, args.ttfb_requests)
    if t.service is not None and not t.service.alive():
        problem = f"{t.label} died during {scenario.name} (exit {t.service.proc.returncode}); log tail:\n{t.service.log_tail(15)}"
        results["problems"].append(problem)
        print(f"bench: PROBLEM {problem}", flush=True)
    return result


def soak(
    t: Target, args: argparse.Namespace, body_paths: dict[str, Path], workdir: Path, results: dict
) -> dict:
    """wrk in slices of at most 10 s at the soak concurrency until the request count (or the time
    limit) is reached, sampling the gateway's RSS after each slice."""
    assert t.service is not None
    print(
        f"bench: soak {t.label}: up to {args.soak_requests:,} requests or {args.soak_max_seconds:g} s",
        flush=True,
    )
    record: dict = {
        "requests": 0,
        "seconds": 0.0,
        "rss_mb": [],
        "at_requests": [],
        "statuses": {},
        "errors": {},
        "bad_body": 0,
    }
    t0 = time.monotonic()
    ticks0 = cpu_ticks(t.service.pids())
    while record["requests"] < args.soak_requests and time.monotonic() - t0 < args.soak_max_seconds:
        if not t.service.alive():
            results["problems"].append(
                f"{t.label} died during the soak after {record['requests']} requests:\n{t.service.log_tail(15)}"
            )
            break
        left = args.soak_max_seconds - (time.monotonic() - t0)
        rate = record["requests"] / max(record["seconds"], 1e-9) if record["requests"] else None
        slice_s = (
            2.0  # a first short slice tells the rate
            if rate is None
            else min(10.0, max(1.0, (args.soak_requests - record["requests"]) / rate + 0.5))
        )
        r = run_wrk(
            t.urls["json"],
            body_paths["json"],
            "json",
            args.soak_connections,
            max(1.0, min(slice_s, left)),
            args.wrk_threads,
            workdir,
        )
        record["requests"] += r["requests"]
        record["seconds"] += r["duration_s"]
        for k, v in r["statuses"].items():
            record["statuses"][k] = record["statuses"].get(k, 0) + v
        for k, v in r["errors"].items():
            if v:
                record["errors"][k] = record["errors"].get(k, 0) + v
        record["bad_body"] += r["bad_body"]
        record["rss_mb"].append(round(rss_kb(t.service.pids()) / 1024, 1))
        record["at_requests"].append(record["requests"])
    record["cpu_ms_per_req"] = (
        (cpu_ticks(t.service.pids()) - ticks0) / CLK_TCK * 1000 / max(1, record["requests"])
    )
    record["rps"] = record["requests"] / max(record["seconds"], 1e-9)
    bad = {k: v for k, v in record["statuses"].items() if k != "200"}
    if bad or record["errors"] or record["bad_body"]:
        results["problems"].append(
            f"{t.label} soak: non-200 {bad or 'none'}, socket errors {record['errors'] or 'none'}, bad bodies {record['bad_body']} in {record['requests']} requests"
        )
    print(
        f"  soak {t.label}: {record['requests']:,} requests in {record['seconds']:.0f} s, RSS {record['rss_mb']}",
        flush=True,
    )
    return record


if __name__ == "__main__":
    sys.exit(main())
