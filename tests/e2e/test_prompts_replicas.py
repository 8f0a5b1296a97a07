"""Two ``keel serve`` processes on one PostgreSQL (and Redis): a label moved, rolled back or removed
through one replica's admin API is what the other serves within a second (it polls the prompts'
revision every ``prompts.refresh_interval``), and a removed label is not served by either."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .test_reload_processes import MASTER, Served, config

AUTH = {"authorization": f"Bearer {MASTER}"}


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.stop()


def ask(server: Served) -> str:
    """Which version the replica serves for the default label (``none`` when it has none)."""
    answer = httpx.post(
        f"{server.base_url}/v1/prompts/greet/completions",
        json={"variables": {"who": "a"}},
        headers=AUTH,
        timeout=10,
    )
    if answer.status_code == 404:
        return "none"
    assert answer.status_code == 200, answer.text
    return answer.headers["x-keel-prompt"]


def seen_within(server: Served, expected: str, limit: float = 3.0) -> float:
    started = time.monotonic()
    while (now := ask(server)) != expected:
        assert time.monotonic() - started < limit, f"{server.base_url} still serves {now}"
        time.sleep(0.02)
    return time.monotonic() - started


def test_label_moves_reach_the_other_replica_within_a_second(
    tmp_path: Path,
    upstream: MockServer,
    postgres_schema_url: str,
    redis_url: str,
    served: list[Served],
    uid: Any,
) -> None:
    """Create v2 on A and move production to it: B serves v2 within 1 s; rollback on B: A serves v1
    within 1 s; remove the label on A: B refuses it (404) within 1 s."""
    model = uid("ok")
    prompts = tmp_path / "prompts" / "greet"
    prompts.mkdir(parents=True)
    (prompts / "v1.yaml").write_text("model: smart\nuser_template: 'Hello {who}'\nlabel: production\n")
    shared: dict[str, Any] = {
        "database": postgres_schema_url,
        "state": redis_url,
        "prompts": {"dir": str(tmp_path / "prompts"), "refresh_interval": 0.2},
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        served.append(Served(tmp_path / name, config(upstream, model, **shared)))
    a, b = served
    for server in served:
        server.wait_ready()
    assert ask(a) == ask(b) == "greet@1"
    admin = httpx.Client(base_url=f"{a.base_url}/admin", headers=AUTH)
    created = admin.post("/prompts/greet/versions", json={"model": "smart", "user_template": "Hi {who}"})
    assert created.status_code == 201, created.text

    assert admin.put("/prompts/greet/labels/production", json={"version": 2}).status_code == 200
    assert ask(a) == "greet@2"  # the replica that moved it serves it at once
    assert seen_within(b, "greet@2") < 1.0

    back = httpx.post(f"{b.base_url}/admin/prompts/greet/labels/production/rollback", headers=AUTH)
    assert back.json()["to"] == 1 and ask(b) == "greet@1"
    assert seen_within(a, "greet@1") < 1.0

    assert admin.delete("/prompts/greet/labels/production").status_code == 200
    assert seen_within(b, "none") < 1.0
    assert ask(a) == "none"
    admin.close()
