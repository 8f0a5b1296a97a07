"""The README's ``make`` commands, as a newcomer runs them (setup itself is left out: it is pip's time)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx2 as httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_make_serve_listens_on_the_port_given(tmp_path: Path) -> None:
    """``make serve PORT=N`` starts the gateway on port N (and says so in its greeting)."""
    port = free_port()
    config = tmp_path / "keel.yaml"
    config.write_bytes(orjson.dumps({"database": f"sqlite:///{tmp_path / 'keel.db'}"}))  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")} | {"KEEL_CONFIG": str(config)}
    process = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), "-o", "setup", "serve", f"PORT={port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # make and the keel it starts are one process group, stopped together
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "make serve did not answer within 30 s"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert f"gateway at http://127.0.0.1:{port}/v1" in out
