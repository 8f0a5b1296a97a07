"""``keel serve``: overrides validated like the config, a greeting that says how to call it, a real start."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from keel.config import load_config
from keel.errors import ConfigError
from keel.server.launch import greeting, with_overrides

KEEL = str(Path(sys.executable).with_name("keel"))


def test_workers_on_memory_state_are_refused() -> None:
    """--workers 2 without shared state fails with the config's own message."""
    with pytest.raises(ConfigError, match=r"workers would each keep their own .* state: redis://"):
        with_overrides(load_config({}), workers=2)


def test_overrides_apply() -> None:
    """--host and --port replace the config's values."""
    config = with_overrides(load_config({}), host="0.0.0.0", port=4123)
    assert (config.server.host, config.server.port) == ("0.0.0.0", 4123)


def test_greeting_shows_curl_and_sdk() -> None:
    """The greeting names the URL, a curl line and the openai SDK's base_url."""
    text = greeting(load_config({"server": {"port": 4321}, "models": {"local": ["local"]}}))
    assert (
        "http://127.0.0.1:4321/v1" in text
        and "curl " in text
        and 'base_url="http://127.0.0.1:4321/v1"' in text
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_keel_serve_starts_on_the_defaults_and_stops_on_sigterm(tmp_path: Path) -> None:
    """With no config, ``keel serve`` warns which keys would add routes, answers health checks and lists
    the default models; SIGTERM stops it."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "KEEL_CONFIG"}
    port = free_port()
    process = subprocess.Popen(
        [KEEL, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.ConnectError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).json()
        assert [model["id"] for model in models["data"]] == ["default", "local"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, errors = process.communicate(timeout=20)
    # uvicorn re-raises the signal it handled once it has shut down gracefully.
    assert process.returncode in (0, -signal.SIGTERM), errors
    assert "Application shutdown complete" in errors
    assert "OPENAI_API_KEY and ANTHROPIC_API_KEY are not set" in errors and "local model" in errors
    assert f"curl http://127.0.0.1:{port}/v1/chat/completions" in out
    assert "Traceback" not in errors


def test_keel_serve_refuses_workers_without_redis(tmp_path: Path) -> None:
    """``keel serve --workers 2`` on the in-memory default exits 1 saying why."""
    result = subprocess.run(
        [KEEL, "serve", "--workers", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "redis://" in result.stderr and "Traceback" not in result.stderr


def test_keel_serve_on_a_taken_port_says_how_to_pick_another(tmp_path: Path) -> None:
    """On a port something already listens on, ``keel serve`` exits non-zero before greeting, naming
    the port and how to choose another."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "KEEL_CONFIG"}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [KEEL, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "gateway at" not in result.stdout
    assert f"port {port}" in result.stderr
    assert "--port" in result.stderr and "make serve PORT=" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("keys", "serves", "missing"),
    [
        ({}, ["the bundled local model"], ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]),
        ({"OPENAI_API_KEY": "sk-secret-1"}, ["openai/gpt-4o-mini", "local model"], ["ANTHROPIC_API_KEY"]),
        (
            {"ANTHROPIC_API_KEY": "sk-ant-secret-2"},
            ["anthropic/claude-haiku-4-5", "local model"],
            ["OPENAI_API_KEY"],
        ),
    ],
    ids=["no_keys", "openai_only", "anthropic_only"],
)
def test_default_cascade_warning_names_every_missing_key(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    keys: dict[str, str],
    serves: list[str],
    missing: list[str],
) -> None:
    """Without a config, one warning names each key that would add a route, and what is served without."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "KEEL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(Path(__file__).parent)  # no keel.yaml here
    with caplog.at_level(logging.WARNING, logger="keel.config"):
        load_config()
    [warning] = [record.getMessage() for record in caplog.records]
    assert all(name in warning for name in missing)
    assert all(name not in warning for name in keys)
    assert all(route in warning for route in serves), warning
    assert all(value not in warning for value in keys.values())


def test_default_cascade_with_every_key_warns_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With both keys set the default cascade is complete and start-up says nothing about keys."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-2")
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    monkeypatch.chdir(Path(__file__).parent)
    with caplog.at_level(logging.WARNING, logger="keel.config"):
        load_config()
    assert not caplog.records
