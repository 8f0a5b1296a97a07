"""A real ``keel serve`` (uvicorn, uvloop, httptools) on loopback in front of a real ``keel mock``.

Both run in threads of their own with their own event loops; the tests are plain synchronous code
using the official ``openai`` and ``anthropic`` SDKs (retries at their default) or httpx, as a user's
program would.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
import uvicorn

from keel import Gateway
from keel.keys import VirtualKey
from keel.mock import MockServer
from keel.server import KeelApp, create_app
from keel.server.run import open_keys, uvicorn_config

from .._support.postgres_cluster import PostgresCluster

FAST = {
    "pricing": {"models": {"mock/*": {"input": 1, "output": 2}, "claude/*": {"input": 1, "output": 5}}},
    "timeouts": {"connect": 1, "first_token": 1.0, "idle": 0.5, "attempt": 3, "total": 8},
    "retry": {"initial_backoff": 0.01, "max_backoff": 0.05, "max_retry_after": 3},
}


@dataclass
class RunningKeel:
    """A server started by ``start_keel``; ``v1`` is the base URL an SDK takes."""

    app: KeelApp
    server: uvicorn.Server
    thread: threading.Thread
    base_url: str

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def stop(self, timeout: float = 15) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def issue_key(running: RunningKeel, name: str, **fields: Any) -> tuple[VirtualKey, str]:
    """A virtual key issued in ``running``'s key store (``fields`` as ``KeyStore.create`` takes them):
    its record and its secret."""

    async def issue() -> tuple[VirtualKey, str]:
        store = open_keys(running.app.gateway.config)
        assert store is not None, "the server has no key store (no master key)"
        try:
            return await store.create(name, **fields)
        finally:
            await store.close()

    return asyncio.run(issue())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def start_keel(config: dict[str, Any]) -> RunningKeel:
    """``keel serve`` for ``config`` on a free port, in a thread; returns once it accepts connections."""
    config = merge(config, {"server": {"port": free_port()}})
    gateway = Gateway.from_config(config)
    app = create_app(gateway, keys=open_keys(gateway.config))
    settings = uvicorn_config(app, gateway.config, log_level="warning")
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run, name="keel-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("keel serve did not start")
        time.sleep(0.01)
    return RunningKeel(app, server, thread, f"http://127.0.0.1:{gateway.config.server.port}")


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster on a free port, that the test may stop and start again."""
    postgres = PostgresCluster()
    postgres.start()
    yield postgres
    postgres.remove()


@pytest.fixture(scope="session")
def upstream() -> Iterator[MockServer]:
    mock = MockServer()
    with mock.run_in_thread():
        yield mock


def mock_config(
    upstream: MockServer, models: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A config on the mock whose database is a fresh file of its own (never ./keel.db): provider
    ``mock`` is its OpenAI side, ``claude`` its Anthropic side."""
    claude = {"kind": "anthropic", "base_url": (upstream.base_url or "").removesuffix("/v1")}
    base = {
        "providers": {"mock": {"profile": "generic", "base_url": upstream.base_url}, "claude": claude},
        "models": models or {},
        "database": f"sqlite:///{tempfile.mkdtemp(prefix='keel-e2e-')}/keel.db",
    }
    return merge(merge(base, FAST), overrides)


KeelFactory = Callable[..., RunningKeel]


@pytest.fixture
def keel_for(upstream: MockServer) -> Iterator[KeelFactory]:
    """``keel_for({"smart": ["mock/a", "mock/b"]}, retry={...})``: a server of its own for one test."""
    started: list[RunningKeel] = []

    def factory(models: dict[str, Any] | None = None, **overrides: Any) -> RunningKeel:
        running = start_keel(mock_config(upstream, models, **overrides))
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def keel(upstream: MockServer) -> Iterator[RunningKeel]:
    """One shared server; tests name single-route models directly as ``mock/<behaviour>``."""
    running = start_keel(mock_config(upstream, {"fast": ["mock/ok:tokens=3"]}))
    yield running
    running.stop()


@pytest.fixture
def client(keel: RunningKeel) -> Iterator[openai.OpenAI]:
    """The official SDK with its default retries, pointed at the shared server."""
    with openai.OpenAI(base_url=keel.v1, api_key="any", timeout=20) as sdk:
        yield sdk


@pytest.fixture
def claude(keel: RunningKeel) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic SDK with its default retries, pointed at the shared server."""
    with anthropic.Anthropic(base_url=keel.base_url, api_key="any", timeout=20) as sdk:
        yield sdk


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Makes mock model names unique to one test, so the mock's counters and records are its own."""
    token = uuid.uuid4().hex[:8]

    def name(model: str) -> str:
        sep = "," if ":" in model else ":"
        return f"{model}{sep}id={token}"

    return name


def user(text: str = "Say hello") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
