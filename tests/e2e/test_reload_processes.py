"""Reloads of a real ``keel serve`` process: SIGHUP on one process, and the admin API under
``--workers 2`` on Redis while 50 streams and a flow of plain calls run — nothing fails, streams that
began before the reload finish on the old route, and both workers answer the next calls on the new
one (the access log's pid says which worker served each call)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import yaml

from keel.mock import MockServer

from .conftest import free_port, mock_config, user

KEEL = str(Path(sys.executable).with_name("keel"))
MASTER = "mk-reload-processes-0123456789"
_ACCESS = re.compile(r"event='request' .*pid=(\d+) request_id='([^']+)' route='([^']+)' status=(\d+)")


class Served:
    """A ``keel serve`` process on a keel.yaml, its log in a file."""

    def __init__(self, tmp_path: Path, raw: dict[str, Any], *args: str) -> None:
        self.path = tmp_path / "keel.yaml"
        self.log = tmp_path / "serve.log"
        self.raw = raw
        self.write(raw)
        self.port = raw["server"]["port"]
        self.base_url = f"http://127.0.0.1:{self.port}"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [KEEL, "serve", "--config", str(self.path), *args], cwd=tmp_path, stdout=sink, stderr=sink
            )

    def write(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.path.write_text(yaml.safe_dump(raw))

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while needle not in self.text():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"{needle!r} not logged: {self.text()}"
            time.sleep(0.02)

    def wait_ready(self, workers: int = 1) -> None:
        self.wait_for("Application startup complete")
        deadline = time.monotonic() + 20
        while self.text().count("Application startup complete") < workers:
            assert self.process.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.02)

    def access(self) -> dict[str, tuple[int, str, int]]:
        """Each logged request by id: the worker pid, the route and the status."""
        return {m[2]: (int(m[1]), m[3], int(m[4])) for m in _ACCESS.finditer(self.text())}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.stop()


def config(upstream: MockServer, model: str, **overrides: Any) -> dict[str, Any]:
    server = {"port": free_port(), "master_key": MASTER, **overrides.pop("server", {})}
    return mock_config(upstream, {"smart": [f"mock/{model}"]}, server=server, **overrides)


def chat(server: Served) -> Any:
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=MASTER, max_retries=0) as sdk:
        return sdk.chat.completions.create(model="smart", messages=user())  # type: ignore[arg-type]


def test_sighup_reloads_one_process_and_a_bad_file_is_logged_once(
    upstream: MockServer, uid: Any, served: list[Served], tmp_path: Path
) -> None:
    old, new = uid("ok:tokens=2"), uid("ok:tokens=3")
    server = Served(tmp_path, config(upstream, old))
    served.append(server)
    server.wait_ready()
    assert chat(server).model == old

    good = server.raw
    server.write({**good, "models": {"smart": ["mock/" + new]}})
    server.process.send_signal(signal.SIGHUP)
    server.wait_for("config reloaded")
    assert chat(server).model == new

    server.write({**good, "models": {"smart": ["nope/" + new]}})
    server.process.send_signal(signal.SIGHUP)
    server.wait_for("config reload refused")
    assert chat(server).model == new
    refusals = [line for line in server.text().splitlines() if "config reload refused" in line]
    assert len(refusals) == 1 and "models.smart[0][0]: unknown provider 'nope'" in refusals[0]
    assert server.process.poll() is None and "Traceback" not in server.text()


def test_a_reload_under_load_on_two_workers_drops_nothing(
    upstream: MockServer, redis_url: str, served: list[Served], tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    old, new = f"ok:tokens=25,token_ms=40,id={token}", f"ok:tokens=2,id={token}"
    server = Served(tmp_path, config(upstream, old, state=redis_url), "--workers", "2")
    served.append(server)
    # A SIGHUP while the workers start waits for them (they start with it blocked): none dies.
    server.wait_for("Started parent process")
    server.process.send_signal(signal.SIGHUP)
    server.wait_ready(workers=2)
    workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.text())}
    assert len(workers) == 2

    result = asyncio.run(_load_and_reload(server, new))

    assert result["failures"] == []
    assert result["reload"]["status"] == 200, result["reload"]
    assert result["reload"]["body"]["changed"] == ["models.smart"]
    assert result["reload"]["body"]["workers"] == {"total": 2, "applied": 2, "refused": 0, "unconfirmed": 0}
    streams = result["streams"]
    assert len(streams) == 50
    for model, text in streams:
        assert model == old
        assert text.split() == [f"token{i}" for i in range(25)]
    records = upstream.attempts(model=old)
    assert len([r for r in records if r["stream"]]) == 50
    assert all(r["outcome"] == "ok" for r in records)
    assert not [r for r in upstream.attempts(model=new) if r["stream"]]

    wanted = [*result["stream_ids"], *(request_id for request_id, _ in result["after"])]
    deadline = time.monotonic() + 5
    while not all(request_id in (access := server.access()) for request_id in wanted):
        assert time.monotonic() < deadline, "access lines missing"
        time.sleep(0.02)
    for request_id in result["stream_ids"]:
        assert access[request_id][1:] == (f"mock/{old}", 200)
    after = [access[rid] for rid, model in result["after"]]
    assert all(model == new for _, model in result["after"])
    assert {pid for pid, route, status in after if route == f"mock/{new}" and status == 200} == workers
    assert "died" not in server.text() and "Traceback" not in server.text()
    assert server.text().count("config reloaded") == 2  # the start-up SIGHUP, then the admin call


def test_under_workers_the_parent_watches_the_file_for_all_of_them(
    upstream: MockServer, redis_url: str, served: list[Served], tmp_path: Path, uid: Any
) -> None:
    old, new = uid("ok:tokens=2"), uid("ok:tokens=3")
    raw = config(upstream, old, state=redis_url, server={"watch_config": True, "watch_interval": 0.1})
    server = Served(tmp_path, raw, "--workers", "2")
    served.append(server)
    server.wait_ready(workers=2)
    workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.text())}

    server.write({**server.raw, "models": {"smart": [f"mock/{new}"]}})
    server.wait_for("config reloaded")

    # The workers apply it once the parent's SIGHUP reaches them: each switches once, for good.
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per call: both workers take some
    served_by: list[tuple[str, str]] = []
    with httpx.Client(base_url=server.base_url, limits=limits, timeout=10) as client:
        for _ in range(300):
            request_id = f"watched-{uuid.uuid4().hex[:12]}"
            body = {"model": "smart", "messages": user()}
            headers = {"x-request-id": request_id, "authorization": f"Bearer {MASTER}"}
            answer = client.post("/v1/chat/completions", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            served_by.append((request_id, answer.json()["model"]))
            access = server.access()
            if {access[i][0] for i, model in served_by if model == new and i in access} == workers:
                break
    deadline = time.monotonic() + 5
    while not all(i in (access := server.access()) for i, _ in served_by):
        assert time.monotonic() < deadline, "access lines missing"
        time.sleep(0.02)
    by_worker = {pid: [model for i, model in served_by if access[i][0] == pid] for pid in workers}
    for models in by_worker.values():
        assert new in models
        assert old not in models[models.index(new) :]
    assert server.text().count("config reloaded") == 1


async def _load_and_reload(server: Served, new: str) -> dict[str, Any]:
    """50 streams and plain calls through ``server``; once every stream has begun, the cascade moves
    to ``new`` through the admin API; plain calls go on until both workers served the new route."""
    failures: list[BaseException] = []
    begun = 0
    stream_ids = [f"stream-{i}-{uuid.uuid4().hex[:8]}" for i in range(50)]
    after: list[tuple[str, str]] = []
    reloaded = asyncio.Event()
    done = asyncio.Event()
    sdk = openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=MASTER, max_retries=0, timeout=30)

    async def one_stream(request_id: str) -> tuple[str, str]:
        nonlocal begun
        stream = await sdk.chat.completions.create(
            model="smart", messages=user(), stream=True, extra_headers={"x-request-id": request_id}
        )  # type: ignore[call-overload]
        text, model, first = [], "", True
        async for chunk in stream:
            model = chunk.model
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
                if first:
                    begun, first = begun + 1, False
        return model, "".join(text)

    async def plain_calls(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            request_id = f"plain-{uuid.uuid4().hex[:12]}"
            sent_after_reload = reloaded.is_set()
            try:
                answer = await client.post(
                    "/v1/chat/completions",
                    json={"model": "smart", "messages": user()},
                    headers={"x-request-id": request_id, "authorization": f"Bearer {MASTER}"},
                )
                assert answer.status_code == 200, answer.text
            except BaseException as error:
                failures.append(error)
                return
            if sent_after_reload:
                after.append((request_id, answer.json()["model"]))

    # No keep-alive: each plain call is a new connection, so both workers take some.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
        streams = [asyncio.create_task(one_stream(request_id)) for request_id in stream_ids]
        plain = [asyncio.create_task(plain_calls(client)) for _ in range(4)]
        deadline = time.monotonic() + 20
        while begun < 50:
            assert time.monotonic() < deadline, f"only {begun} streams began"
            await asyncio.sleep(0.01)
        server.write({**server.raw, "models": {"smart": [f"mock/{new}"]}})
        answer = await client.post(
            "/admin/reload", headers={"authorization": f"Bearer {MASTER}", "x-request-id": "reload"}
        )
        reload = {"status": answer.status_code, "body": answer.json()}
        reloaded.set()
        for _ in range(200):  # at most 10 s
            if _both_workers_served(server, after, new):
                break
            await asyncio.sleep(0.05)
        done.set()
        results = await asyncio.gather(*streams, return_exceptions=True)
        await asyncio.gather(*plain)
    await sdk.close()
    failures += [r for r in results if isinstance(r, BaseException)]
    return {
        "failures": failures,
        "reload": reload,
        "streams": [r for r in results if not isinstance(r, BaseException)],
        "stream_ids": stream_ids,
        "after": after,
    }


def _both_workers_served(server: Served, after: list[tuple[str, str]], new: str) -> bool:
    access = server.access()
    pids = {access[rid][0] for rid, _ in after if rid in access and access[rid][1] == f"mock/{new}"}
    return len(pids) >= 2
