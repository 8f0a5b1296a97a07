"""Start-up time: from launching ``keel serve`` to its first 200 on ``/v1/chat/completions``.

    .venv/bin/python bench/startup.py [--starts 5] [--src A/src] [--compare B/src] [--extras]

An already-running ``keel mock --fast`` is the upstream; ``keel serve`` gets one route to it
(``mock/gpt-4o-mini``, priced from the pricing library, as a real OpenAI route is) and a fresh SQLite
ledger. The clock starts just before the process is spawned and stops when a chat completion
(retried every 5 ms while the port refuses) comes back 200. Each start is a new process; the figure is
the median over ``--starts``. It also times ``keel --help`` and ``keel serve --help`` (launch to exit).

``--extras`` adds a second configuration with every extra on (Redis state, PostgreSQL database when
one answers at ``--postgres``, the semantic cache, the local model as a second model) and reports,
per start, the time to the first 200 through the mock route (which embeds the prompt for the semantic
cache) and then the time of the first call to the local model (which loads it).

``--src`` puts another checkout's ``src`` first on ``PYTHONPATH`` (the venv's ``keel`` then runs
that code): measure a commit with ``git archive <commit> src | tar -x -C /tmp/keel-before``.
``--compare OTHER/src`` starts that checkout in turn with the first, in every round, and reports the
median of the in-round ratios as well (the machine is noisy: compare within rounds). Compare two
``--src`` checkouts (``--src A/src --compare B/src``) so that both run the same way; each target's
bytecode is compiled before the first start.
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

TICK = os.sysconf("SC_CLK_TCK")


def chat_body(model: str, **extra: object) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 16, **extra}
    ).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[bytes], port: int, within: float = 30.0) -> None:
    stop = time.monotonic() + within
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listened on {port} within {within} s")


def chat(port: int, body: bytes, timeout: float = 60.0) -> int | None:
    """The status of one chat completion, or None when the connection is refused."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (ConnectionRefusedError, ConnectionResetError):
        return None
    finally:
        connection.close()


def first_answer(
    args: list[str], env: dict[str, str], port: int, body: bytes, within: float = 60.0
) -> tuple[float, float, subprocess.Popen[bytes]]:
    """Seconds from spawning ``args`` to the first 200 on ``port``, the CPU seconds the process had
    used by then, and the still-running process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = time.monotonic() + within
    while time.monotonic() < stop:
        status = chat(port, body)
        if status == 200:
            return time.perf_counter() - started, cpu_seconds(process.pid), process
        if status is not None:
            process.kill()
            raise RuntimeError(f"first answer was {status}")
        if process.poll() is not None:
            raise RuntimeError(f"keel serve exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.005)
    process.kill()
    raise RuntimeError(f"no 200 within {within} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds (clock ticks of 10 ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def timed_exit(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def write_config(path: Path, mock_port: int, workdir: Path, extras: dict[str, str] | None) -> None:
    lines = [
        f"providers: {{mock: {{kind: openai, profile: openai, base_url: 'http://127.0.0.1:{mock_port}/v1',"
        " api_key: sk-bench-upstream}}",
        f"database: 'sqlite:///{workdir}/keel.db'",
    ]
    models = "models: {bench: ['mock/gpt-4o-mini']}"
    if extras is not None:
        lines[0] = lines[0][: -len("}")] + ", local: {kind: local}}"
        models = "models: {bench: ['mock/gpt-4o-mini'], small: ['local']}"
        lines.append(f"state: '{extras['redis']}'")
        lines.append("cache: {semantic: {enabled: true}}")
        if "postgres" in extras:
            lines[1] = f"database: '{extras['postgres']}'"
    path.write_text("\n".join([*lines, models]) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--src", help="run this checkout's src instead of the installed keel")
    parser.add_argument("--compare", help="another checkout's src, started in turn with the first")
    parser.add_argument("--extras", action="store_true", help="also time first use with every extra on")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    options = parser.parse_args()
    keel = str(Path(sys.executable).with_name("keel"))
    targets = [target(options.src)] + ([target(options.compare)] if options.compare else [])
    workdir = Path(tempfile.mkdtemp(prefix="keel-startup-"))
    mock_port = free_port()
    mock = subprocess.Popen(
        [keel, "mock", "--fast", "--port", str(mock_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    redis: subprocess.Popen[bytes] | None = None
    extras: dict[str, str] = {}
    try:
        wait_listening(mock, mock_port)
        print("targets: " + "; ".join(f"[{index}] {label}" for index, (label, _) in enumerate(targets)))
        for label, args in (
            ("keel --help", [keel, "--help"]),
            ("keel serve --help", [keel, "serve", "--help"]),
        ):
            for _, env in targets:
                timed_exit(args, env)  # warm the page cache and the bytecode
            exits = [[timed_exit(args, env) for _, env in targets] for _ in range(options.starts)]
            report(label, exits)
        rounds = [
            measure(keel, targets, workdir, mock_port, None, index) for index in range(options.starts + 1)
        ]
        report("keel serve, one route to the mock", [times for times, _, _ in rounds[1:]])
        report("  its CPU by then", [cpu for _, _, cpu in rounds[1:]])
        if options.extras:
            redis_port = free_port()
            redis = subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_listening(redis, redis_port)
            extras = {"redis": f"redis://127.0.0.1:{redis_port}/0"}
            schema_url = postgres_schema(options.postgres)
            if schema_url is not None:
                extras["postgres"] = schema_url
            database = "PostgreSQL" if "postgres" in extras else "SQLite (no PostgreSQL answered)"
            print(f"every extra on: Redis state, {database}, the semantic cache, the local model")
            rounds = [
                measure(keel, targets, workdir, mock_port, extras, index)
                for index in range(options.starts + 1)
            ]
            report("  first 200 via the mock route", [times for times, _, _ in rounds[1:]])
            report("  its CPU by then", [cpu for _, _, cpu in rounds[1:]])
            report("  then the first local-model call", [local for _, local, _ in rounds[1:]])
    finally:
        for process in (mock, redis):
            if process is not None:
                stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
        if "postgres" in extras:
            postgres_schema(options.postgres, drop=f"keel_startup_{os.getpid()}")


def target(src: str | None) -> tuple[str, dict[str, str]]:
    """A label and the environment that runs the installed keel, or ``src`` first on the path.

    Its bytecode is compiled first, as an installed package's is: with ``PYTHONDONTWRITEBYTECODE``
    set (as on this machine) every start would otherwise compile each changed module again.
    """
    env = dict(os.environ)
    if src is None:
        package = Path(subprocess.check_output([sys.executable, "-c", LOCATE], text=True).strip())
        label = "the venv's keel (this checkout)"
    else:
        env["PYTHONPATH"] = str(Path(src).resolve())
        package, label = Path(src, "keel"), src
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    return label, env


LOCATE = "import importlib.util; print(importlib.util.find_spec('keel').submodule_search_locations[0])"


def measure(
    keel: str,
    targets: list[tuple[str, dict[str, str]]],
    workdir: Path,
    mock_port: int,
    extras: dict[str, str] | None,
    index: int,
) -> tuple[list[float], list[float], list[float]]:
    """One start of each target: seconds to its first 200, (with extras) of its first local call,
    and the CPU seconds it used to its first 200."""
    times: list[float] = []
    local: list[float] = []
    cpus: list[float] = []
    for _, env in targets:
        config = workdir / f"keel-{index}.yaml"
        (workdir / "keel.db").unlink(missing_ok=True)
        write_config(config, mock_port, workdir, extras)
        port = free_port()
        args = [keel, "serve", "--config", str(config), "--port", str(port)]
        # With the extras the call is cache-eligible (temperature 0), so the semantic cache embeds it.
        body = chat_body("bench") if extras is None else chat_body("bench", temperature=0)
        seconds, cpu, process = first_answer(args, env, port, body)
        try:
            if extras is not None:
                started = time.perf_counter()
                status = chat(port, chat_body("small"))
                if status != 200:
                    raise RuntimeError(f"the local model answered {status}")
                local.append(time.perf_counter() - started)
        finally:
            stop(process)
        times.append(seconds)
        cpus.append(cpu)
    return times, local, cpus


def postgres_schema(url: str, drop: str | None = None) -> str | None:
    """``url`` on a fresh schema of its own (None when PostgreSQL does not answer); or drop ``drop``."""
    try:
        import asyncio

        import asyncpg  # type: ignore[import-untyped]

        schema = drop or f"keel_startup_{os.getpid()}"

        async def run() -> None:
            connection = await asyncpg.connect(url, timeout=3)
            try:
                verb = f"DROP SCHEMA {schema} CASCADE" if drop else f"CREATE SCHEMA {schema}"
                await connection.execute(verb)
            finally:
                await connection.close()

        asyncio.run(run())
        return f"{url}?search_path={schema}"
    except Exception:
        return None


def report(label: str, rounds: list[list[float]]) -> None:
    """Each target's median over rounds (and its values), then the median in-round ratio to [0]."""
    for index in range(len(rounds[0])):
        mine = [times[index] for times in rounds]
        line = f"{label:<36} [{index}] median {statistics.median(mine):.3f} s"
        line += "  (" + ", ".join(f"{value:.3f}" for value in mine) + ")"
        if index:
            line += f"  x [0] {statistics.median(times[index] / times[0] for times in rounds):.2f}"
        print(line)


if __name__ == "__main__":
    main()
