"""Suite-wide guards: tests talk to loopback only."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ._requires import missing, require_binary

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: object) -> None:
    if not isinstance(address, tuple):
        return  # unix sockets
    host = str(address[0])
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        if host == "localhost":
            return
    raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _loopback_only(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_non_loopback() -> object:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private ``redis-server`` on a free loopback port, stopped after the session."""
    binary = require_binary("redis-server")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


_POSTGRES_URLS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


def _on_postgres(url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(connection)`` on a fresh asyncpg connection, in a thread with its own event loop."""
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> Any:
        connection = await asyncpg.connect(url, timeout=5)
        try:
            return await work(connection)
        finally:
            await connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL (``$KEEL_TEST_POSTGRES_URL``, else database ``test`` on 127.0.0.1 as
    ``postgres`` or ``root``); the tests skip without one, except under CI, where they fail."""
    given = os.environ.get("KEEL_TEST_POSTGRES_URL")
    problems = []
    for url in (given,) if given else _POSTGRES_URLS:
        try:
            _on_postgres(url, lambda connection: connection.fetchval("SELECT 1"))
            return url
        except Exception as error:
            problems.append(f"{url.rpartition('@')[2]}: {type(error).__name__}: {error}")  # no credentials
    missing("PostgreSQL (" + "; ".join(problems) + ")")


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` pointed at a fresh schema of its own (``?search_path=``), dropped afterwards."""
    schema = f"keel_test_{uuid.uuid4().hex[:12]}"
    _on_postgres(postgres_url, lambda connection: connection.execute(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{postgres_url}{'&' if '?' in postgres_url else '?'}search_path={schema}"
    finally:
        _on_postgres(postgres_url, lambda connection: connection.execute(f"DROP SCHEMA {schema} CASCADE"))
