"""What ``keel`` imports at start: only what the command and the configuration need (issue 13).

Each check runs the real command in a fresh interpreter and reads its ``sys.modules``: ``keel --help``
before any server code, and ``keel serve`` with one route to a real ``keel mock`` after its first
200, so a feature that is off costs no start-up time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from keel.mock import MockServer

# Runs ``keel`` as its console script does, then prints the top-level and keel modules it imported.
# For ``serve``, a thread waits for the first 200 on /v1/chat/completions, records the modules and
# stops the server with SIGINT, as Ctrl-C would.
DRIVER = textwrap.dedent(
    """
    import gc, os, signal, sys, threading, time, urllib.request
    import orjson

    def loaded():
        return sorted(name for name in sys.modules if "." not in name or name.startswith("keel."))

    def first_answer(port, out):
        body = orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": "Hi"}]})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/chat/completions", body, {"content-type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    out["status"] = response.status
                    break
            except OSError:
                time.sleep(0.02)
        out["modules"] = loaded()
        out["collecting"] = gc.isenabled()
        out["full_collections_by_first_answer"] = out["full_collections"]
        os.kill(os.getpid(), signal.SIGINT)

    out = {"full_collections": 0}

    def count_full(phase, info):
        if phase == "start" and info["generation"] == 2:
            out["full_collections"] += 1

    gc.callbacks.append(count_full)
    sys.argv = ["keel", *sys.argv[1:]]
    if "serve" in sys.argv and "--help" not in sys.argv:
        threading.Thread(target=first_answer, args=(sys.argv[-1], out), daemon=True).start()
    from keel.cli import main
    try:
        main()
    except SystemExit:
        pass
    out.setdefault("modules", loaded())
    print(orjson.dumps(out).decode())
    """
)


def run_keel(*args: str, cwd: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, object] = orjson.loads(result.stdout.strip().splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    server = MockServer()
    with server.run_in_thread():
        yield server


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"]])
def test_help_loads_no_server_stack(args: list[str], tmp_path: Path) -> None:
    """``keel --help`` and ``keel serve --help`` import neither the gateway nor the HTTP stack."""
    modules = set(run_keel(*args, cwd=tmp_path)["modules"])  # type: ignore[arg-type]
    heavy = {"keel.config", "keel.gateway", "keel.server", "aiohttp", "uvicorn", "starlette", "structlog"}
    assert "keel.cli" in modules
    assert not heavy & modules, sorted(heavy & modules)


def test_serve_with_one_route_loads_no_extra(mock: MockServer, tmp_path: Path) -> None:
    """``keel serve`` with one OpenAI route answers its first call without importing what is off:
    the extras' libraries (local model, semantic cache, Redis, PostgreSQL, OpenTelemetry), structlog
    (loaded on the first log event), Starlette (on the first /admin request), rich and the other
    commands; that it spends no full garbage collection on the way, and collects garbage as it serves."""
    config = tmp_path / "keel.yaml"
    config.write_text(
        f"providers: {{mock: {{kind: openai, profile: openai, base_url: '{mock.base_url}', api_key: k}}}}\n"
        "models: {bench: ['mock/gpt-4o-mini']}\n"
        f"database: 'sqlite:///{tmp_path}/keel.db'\n"
    )
    found = run_keel(
        "serve", "--log-level", "warning", "--config", str(config), "--port", str(free_port()), cwd=tmp_path
    )
    assert found["status"] == 200
    assert found["collecting"] is True  # start-up turns the collector off, serving turns it back on
    assert found["full_collections_by_first_answer"] == 0  # start-up's garbage is frozen, not sought
    modules = set(found["modules"])  # type: ignore[arg-type]
    assert {"keel.gateway", "aiohttp", "uvicorn"} <= modules  # the server did start
    off = {"xllamacpp", "onnxruntime", "tokenizers", "numpy", "redis", "asyncpg", "structlog", "starlette"}
    off |= {"rich", "keel.keys_cli", "keel.cache_cli", "bpe_openai"}  # the tokenizer: budgets only
    off |= {"opentelemetry", "keel.telemetry.tracing", "keel.telemetry.otel"}  # tracing is off
    assert not off & modules, sorted(off & modules)
