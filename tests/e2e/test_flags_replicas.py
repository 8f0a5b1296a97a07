"""The kill switch across two ``keel serve`` replicas on Redis and PostgreSQL: under steady load on
both, ``POST /admin/flags/summarizer/kill`` on one is applied by both within a second, no call fails,
and the streams in flight when it lands complete on the variant they started with."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from keel.mock import MockServer

from .test_reload_processes import MASTER, Served, config

AUTH = {"authorization": f"Bearer {MASTER}"}
FEATURE = {"x-keel-feature": "summarizer"}


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.stop()


def test_a_kill_reaches_both_replicas_within_a_second_under_load(
    tmp_path: Path,
    upstream: MockServer,
    postgres_schema_url: str,
    redis_url: str,
    served: list[Served],
    uid: Any,
) -> None:
    """Four callers per replica call the feature in a loop (two of them streaming slowly); the kill
    is made on A: each replica's answers name the fallback variant within 1 s of it, every call of
    the run succeeded, and every stream that began on the new variant ended with its whole answer."""
    new, old = uid("ok:tokens=20,token_ms=15"), uid("ok:tokens=2")
    shared: dict[str, Any] = {
        "database": postgres_schema_url,
        "state": redis_url,
        "flags": {"refresh_interval": 0.2},
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        raw = config(upstream, uid("ok"), **shared)
        raw["models"].update({"new": [f"mock/{new}"], "old": [f"mock/{old}"]})
        served.append(Served(tmp_path / name, raw))
    a, b = served
    for server in served:
        server.wait_ready()
    admin = httpx.Client(base_url=f"{a.base_url}/admin", headers=AUTH, timeout=10)
    flag = {
        "variants": {"new": {"model": "new"}, "old": {"model": "old"}},
        "default": "new",
        "fallback": "old",
    }
    assert admin.put("/flags/summarizer", json=flag).status_code == 200

    failures: list[BaseException] = []
    seen: dict[str, list[tuple[float, str]]] = {a.base_url: [], b.base_url: []}
    streams: list[tuple[str, int, float, float]] = []  # variant, text length, started, ended
    stop = threading.Event()

    def caller(server: Served, stream: bool) -> None:
        with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=MASTER, max_retries=0) as sdk:
            while not stop.is_set():
                try:
                    if stream:
                        began = time.monotonic()
                        with sdk.chat.completions.with_streaming_response.create(
                            model="smart", messages=[{"role": "user", "content": "hi"}], stream=True,
                            extra_headers=FEATURE,
                        ) as raw:  # fmt: skip
                            variant = raw.headers["x-keel-feature"]
                            text = "".join(
                                chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices
                            )
                        streams.append((variant, len(text), began, time.monotonic()))
                    else:
                        answer = sdk.chat.completions.with_raw_response.create(
                            model="smart", messages=[{"role": "user", "content": "hi"}], extra_headers=FEATURE
                        )
                        variant = answer.headers["x-keel-feature"]
                    seen[server.base_url].append((time.monotonic(), variant))
                except BaseException as error:  # counted; the run goes on
                    failures.append(error)

    threads = [
        threading.Thread(target=caller, args=(server, stream))
        for server in served
        for stream in (False, False, True, True)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while sum(1 for _, v in seen[b.base_url] if v == "summarizer=new") < 5:
        assert time.monotonic() < deadline and not failures, failures
        time.sleep(0.02)
    killed_at = time.monotonic()
    assert admin.post("/flags/summarizer/kill").status_code == 200
    time.sleep(0)  # the load goes on; wait for both replicas' answers after the kill
    deadline = killed_at + 5
    while any(sum(1 for at, _ in seen[s.base_url] if at > killed_at + 1.0) < 3 for s in served):
        assert time.monotonic() < deadline, "the load stalled"
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    admin.close()

    assert failures == []
    for server in served:
        late = [variant for at, variant in seen[server.base_url] if at > killed_at + 1.0]
        assert late and set(late) == {"summarizer=old"}, (server.base_url, late)
    whole = {length for variant, length, _, _ in streams if variant == "summarizer=new"}
    assert len(whole) == 1 and whole.pop() > 0  # every stream on the new variant got its whole answer
    across = [s for s in streams if s[0] == "summarizer=new" and s[2] < killed_at < s[3]]
    assert across, "no stream was in flight when the kill landed"
