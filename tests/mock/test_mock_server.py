"""The attempt record, its HTTP endpoint, and the server's lifecycle (async, threaded, CLI entry point)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import openai
import pytest

import keel.testing
from keel.mock import MockServer

USER: Any = [{"role": "user", "content": "hi"}]


async def post(server: MockServer, model: str, **extra: Any) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base_url}/chat/completions",
            json={"model": model, "messages": USER, **extra},
            headers={"Authorization": "Bearer sk-secret-value", "x-request-id": "client-7"},
        ) as response,
    ):
        await response.read()
        return response.status


def fetch(url: str, method: str = "GET", data: bytes | None = None, timeout: float = 5) -> Any:
    request = urllib.request.Request(
        url, method=method, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


async def test_every_request_is_recorded_with_what_the_upstream_saw(server: MockServer) -> None:
    """A record holds seq, times, model, behaviour, stream, outcome, messages, ids, safe headers, body."""
    before_wall, before = time.time(), time.monotonic()
    await post(server, "rate-limit:id=a", stream=True, temperature=0)
    [attempt] = server.attempts()
    assert attempt["seq"] == 1
    assert before_wall <= attempt["time"] <= time.time()
    assert before <= attempt["monotonic"] <= attempt["ended_at"] <= time.monotonic()
    assert attempt["model"] == "rate-limit:id=a"
    assert attempt["behaviour"] == "rate-limit"
    assert attempt["stream"] is True
    assert attempt["outcome"] == "429"
    assert attempt["messages_count"] == 1
    assert attempt["last_role"] == "user"
    assert attempt["request_id"].startswith("req_mock_")
    assert attempt["headers"]["x-request-id"] == "client-7"
    assert "user-agent" in attempt["headers"]
    assert "sk-secret-value" not in json.dumps(attempt)
    assert attempt["body"] == {"model": "rate-limit:id=a", "messages": USER, "stream": True, "temperature": 0}
    assert attempt["closed_at"] is None


async def test_attempts_filter_by_exact_model_and_by_behaviour(server: MockServer) -> None:
    """``attempts(model=…)`` matches the exact name; ``attempts(behaviour=…)`` the behaviour."""
    for model in ("ok", "error-503:id=1", "error-503:id=2", "gpt-4o"):
        await post(server, model)
    assert [a["model"] for a in server.attempts(model="error-503:id=1")] == ["error-503:id=1"]
    assert [a["model"] for a in server.attempts(behaviour="error-503")] == [
        "error-503:id=1",
        "error-503:id=2",
    ]
    assert [a["model"] for a in server.attempts(behaviour="ok")] == ["ok", "gpt-4o"]
    assert [a["seq"] for a in server.attempts()] == [1, 2, 3, 4]


async def test_counters_are_kept_per_full_model_name(server: MockServer) -> None:
    """``times`` counts per model string, so a different ``id`` starts a fresh count."""
    assert [await post(server, "error-500:id=a") for _ in range(2)] == [500, 200]
    assert [await post(server, "error-500:id=b") for _ in range(2)] == [500, 200]


async def test_reset_clears_records_and_counters(server: MockServer) -> None:
    """``reset()`` forgets the attempts and restarts every ``times`` count."""
    assert await post(server, "error-500") == 500
    server.reset()
    assert server.attempts() == []
    assert await post(server, "error-500") == 500
    assert server.attempts()[0]["seq"] == 1


async def test_attempts_over_http(server: MockServer) -> None:
    """``GET /_mock/attempts`` lists records (filterable); ``DELETE`` clears records and counters."""
    await post(server, "error-500")
    await post(server, "ok")
    root = server.base_url.removesuffix("/v1")  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{root}/_mock/attempts") as response:
            assert [a["outcome"] for a in await response.json()] == ["500", "ok"]
        async with session.get(f"{root}/_mock/attempts", params={"model": "error-500"}) as response:
            assert [a["model"] for a in await response.json()] == ["error-500"]
        async with session.get(f"{root}/_mock/attempts", params={"behaviour": "ok"}) as response:
            assert [a["model"] for a in await response.json()] == ["ok"]
        async with session.delete(f"{root}/_mock/attempts") as response:
            assert response.status == 204
    assert server.attempts() == []
    assert await post(server, "error-500") == 500


async def test_invalid_requests_are_recorded_too(server: MockServer) -> None:
    """A request refused as invalid is still an attempt, with outcome ``400_invalid_request``."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}/chat/completions", json={"model": "ok"}) as response,
    ):
        assert response.status == 400
    assert [(a["model"], a["outcome"]) for a in server.attempts()] == [("ok", "400_invalid_request")]


async def test_stop_is_prompt_with_hanging_and_stalled_replies() -> None:
    """Stopping cancels hanging and stalled replies instead of waiting for them: well under a second."""
    mock = MockServer()
    await mock.start()
    async with openai.AsyncOpenAI(base_url=mock.base_url, api_key="x", max_retries=0) as client:
        calls = [
            asyncio.create_task(client.chat.completions.create(model=model, messages=USER, stream=stream))
            for model, stream in (("hang", False), ("stall", True), ("stall", False), ("hang", True))
        ]
        for _ in range(200):
            if len([a for a in mock.attempts() if a["outcome"] in ("hang", "stall")]) == 4:
                break
            await asyncio.sleep(0.01)
        start = time.monotonic()
        await mock.stop()
        assert time.monotonic() - start < 1.0
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, openai.AsyncStream):  # the stalled stream had committed its headers
                await outcome.close()
    assert [type(outcome).__name__ for outcome in outcomes] == [
        "APIConnectionError",
        "AsyncStream",
        "APIConnectionError",
        "APIConnectionError",
    ]
    assert [a["outcome"] for a in mock.attempts()] == ["server_closed"] * 4


def test_run_in_thread_serves_from_its_own_loop() -> None:
    """``run_in_thread()`` yields the base URL, serves sync clients, and stops promptly despite a hang."""
    mock = keel.testing.MockServer()
    errors: list[Exception] = []

    def hang() -> None:
        try:
            fetch(
                f"{mock.base_url}/chat/completions",
                "POST",
                json.dumps({"model": "hang", "messages": USER}).encode(),
            )
        except Exception as error:  # the server went away: whatever urllib calls that
            errors.append(error)

    with mock.run_in_thread() as base_url:
        assert base_url == mock.base_url == f"http://127.0.0.1:{mock.port}/v1"
        reply = fetch(
            f"{base_url}/chat/completions", "POST", json.dumps({"model": "ok", "messages": USER}).encode()
        )
        assert reply["object"] == "chat.completion"
        with (
            openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as client,
            pytest.raises(openai.RateLimitError),
        ):
            client.chat.completions.create(model="rate-limit", messages=USER)
        hanging = threading.Thread(target=hang, daemon=True)
        hanging.start()
        while len(mock.attempts()) < 3:
            time.sleep(0.01)
        assert [a["outcome"] for a in mock.attempts()] == ["ok", "429", "hang"]
        start = time.monotonic()
    assert time.monotonic() - start < 1.0
    hanging.join(2)
    assert len(errors) == 1


def test_run_in_thread_reports_a_port_in_use() -> None:
    """Starting on a port already taken raises in the caller's thread."""
    first = MockServer()
    with first.run_in_thread(), pytest.raises(OSError), MockServer(port=first.port).run_in_thread():
        pass


async def test_realistic_mode_paces_tokens() -> None:
    """``realistic=True`` defaults to a first-token wait and a per-token gap, still overridable."""
    mock = MockServer(realistic=True)
    async with mock.serve(), openai.AsyncOpenAI(base_url=mock.base_url, api_key="x", max_retries=0) as client:
        start = time.monotonic()
        await client.chat.completions.create(model="ok:tokens=2", messages=USER)
        assert time.monotonic() - start >= 0.19
        start = time.monotonic()
        await client.chat.completions.create(model="ok:ttft_ms=0", messages=USER)
        assert time.monotonic() - start < 0.19


def test_run_prints_the_base_url_and_exits_cleanly_on_interrupt() -> None:
    """``run()`` (behind ``keel mock``) prints the base URL, serves, and exits 0 on Ctrl-C."""
    # A shell's background jobs start with SIGINT ignored; give the child Python's usual Ctrl-C handling.
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from keel.mock import run; run(host='127.0.0.1', port=0, api_key='k', realistic=False)"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().split(" at ")[-1].strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with pytest.raises(urllib.error.HTTPError) as refused:
                fetch(f"{base_url}/models")
            refused.value.close()
            assert refused.value.code == 401
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_keel_testing_exports_the_mock() -> None:
    """``keel.testing`` re-exports what a user needs to script a fake provider in their own tests."""
    assert keel.testing.__all__ == ["BEHAVIOURS", "MockServer", "model_name"]
    assert keel.testing.MockServer is MockServer


async def test_only_the_newest_attempts_are_kept() -> None:
    """``max_attempts`` bounds the record, so a long-running mock does not grow; ``seq`` keeps counting."""
    mock = MockServer(max_attempts=2)
    async with mock.serve():
        for _ in range(3):
            await post(mock, "ok")
    assert [a["seq"] for a in mock.attempts()] == [2, 3]
