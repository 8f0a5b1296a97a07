"""``POST /admin/reload`` and ``server.watch_config`` on a real server reading a real ``keel.yaml``:
a good config takes effect for the next call, a bad one is refused naming the field while traffic
goes on, a key that needs a restart is refused saying so, and no secret is ever echoed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import uvicorn
import yaml

from keel import Gateway
from keel.config import load_config
from keel.mock import MockServer
from keel.server import create_app
from keel.server.reload import Reloader
from keel.server.run import open_keys, uvicorn_config
from keel.telemetry.metrics import REGISTRY

from .conftest import free_port, mock_config, user

MASTER = "mk-reload-test-0123456789"


class FileKeel:
    """A server started from a keel.yaml file, as ``keel serve --config`` does (with its reloader)."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path, self.raw = path, raw
        self.write(raw)
        config = load_config(path)
        self.app = create_app(Gateway(config), keys=open_keys(config))
        self.app.reloader = Reloader(self.app.apply_config, path)
        self.server = uvicorn.Server(uvicorn_config(self.app, config, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "keel serve did not start"
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{config.server.port}"

    def write(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.path.write_text(yaml.safe_dump(raw))

    def reload(self, key: str | None = MASTER) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.post(f"{self.base_url}/admin/reload", headers=headers, timeout=10)

    def chat(self, model: str = "smart") -> Any:
        with openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=MASTER, max_retries=0) as sdk:
            return sdk.chat.completions.create(model=model, messages=user())  # type: ignore[arg-type]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def file_keel(upstream: MockServer, tmp_path: Path) -> Iterator[Callable[..., FileKeel]]:
    started: list[FileKeel] = []

    def start(models: dict[str, Any], **overrides: Any) -> FileKeel:
        server = {"port": free_port(), "master_key": MASTER, **overrides.pop("server", {})}
        raw = mock_config(upstream, models, server=server, **overrides)
        running = FileKeel(tmp_path / "keel.yaml", raw)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def reloads(result: str) -> float:
    return REGISTRY.get_sample_value("keel_config_reloads_total", {"result": result}) or 0.0


def with_models(raw: dict[str, Any], models: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**raw, "models": models, **changes}


def test_a_reload_takes_effect_for_the_next_call_and_names_keys_not_values(
    file_keel: Callable[..., FileKeel], uid: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    old, new = uid("ok:tokens=2"), uid("ok:tokens=3")
    keel = file_keel({"smart": [f"mock/{old}"]})
    assert keel.chat().model == old
    secret = "sk-rotated-7d1f0c2a9b8e"
    providers = {**keel.raw["providers"], "mock": {**keel.raw["providers"]["mock"], "api_key": secret}}
    keel.write(with_models(keel.raw, {"smart": [f"mock/{new}"]}, providers=providers))

    applied = reloads("applied")
    with caplog.at_level(logging.INFO, logger="keel"):
        answer = keel.reload()

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "reloaded": True,
        "changed": ["models.smart", "providers.mock.api_key"],
        "workers": {"total": 1, "applied": 1, "refused": 0},
    }
    assert keel.chat().model == new
    assert reloads("applied") == applied + 1
    logged = [r.getMessage() for r in caplog.records if "config reloaded" in r.getMessage()]
    assert len(logged) == 1 and "providers.mock.api_key" in logged[0]
    assert secret not in answer.text and all(secret not in r.getMessage() for r in caplog.records)


def test_a_broken_config_is_refused_naming_the_field_while_traffic_goes_on(
    file_keel: Callable[..., FileKeel], uid: Callable[[str], str]
) -> None:
    ok = uid("ok:tokens=2,ttft_ms=5")
    keel = file_keel({"smart": [f"mock/{ok}"]})
    good = keel.raw
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def traffic() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert keel.chat().model == ok
                answered += 1
            except BaseException as error:
                failures.append(error)

    refused = reloads("refused")
    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        keel.write(with_models(good, {"smart": ["nope/gpt-x"]}))
        unknown = keel.reload()
        keel.write({**good, "server": {**good["server"], "prot": 1}})
        typo = keel.reload()
        keel.write({**good, "timeouts": {**good["timeouts"], "total": "soon"}})
        wrong_type = keel.reload()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)

    assert unknown.status_code == typo.status_code == wrong_type.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid_config"
    assert "models.smart[0][0]: unknown provider 'nope'" in unknown.json()["error"]["message"]
    assert "server.prot: unknown field" in typo.json()["error"]["message"]
    assert "timeouts.total: Input should be a valid number" in wrong_type.json()["error"]["message"]
    assert failures == [] and answered > 0
    assert reloads("refused") == refused + 3
    assert keel.chat().model == ok


def test_a_change_that_needs_a_restart_is_refused_saying_so(
    file_keel: Callable[..., FileKeel], uid: Callable[[str], str]
) -> None:
    ok, other = uid("ok:tokens=2"), uid("ok:tokens=3")
    keel = file_keel({"smart": [f"mock/{ok}"]})
    keel.write(with_models(keel.raw, {"smart": [f"mock/{other}"]}, server={**keel.raw["server"], "port": 1}))

    answer = keel.reload()

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "restart_required"
    assert error["message"].startswith("server.port changed: it is read only at start")
    assert "restart keel serve" in error["message"] and "nothing was reloaded" in error["message"]
    assert keel.chat().model == ok  # the cascade change in the same file was not applied either


def test_reload_needs_the_master_key_and_a_new_master_key_takes_over(
    file_keel: Callable[..., FileKeel], uid: Callable[[str], str]
) -> None:
    keel = file_keel({"smart": [f"mock/{uid('ok')}"]})
    assert keel.reload(key=None).status_code == 401
    assert keel.reload(key="wrong").status_code == 401
    rotated = "mk-rotated-abcdef012345"
    keel.write({**keel.raw, "server": {**keel.raw["server"], "master_key": rotated}})

    assert keel.reload().json()["changed"] == ["server.master_key"]

    assert keel.reload().status_code == 401
    assert keel.reload(key=rotated).status_code == 200


def test_watch_config_reloads_when_the_file_changes(
    file_keel: Callable[..., FileKeel], uid: Callable[[str], str]
) -> None:
    old, new = uid("ok:tokens=2"), uid("ok:tokens=3")
    keel = file_keel({"smart": [f"mock/{old}"]}, server={"watch_config": True, "watch_interval": 0.05})
    keel.write(with_models(keel.raw, {"smart": [f"mock/{new}"]}))

    deadline = time.monotonic() + 5
    while keel.app.gateway.config.models["smart"][0][0].model != new:
        assert time.monotonic() < deadline, "the changed file was not reloaded"
        time.sleep(0.02)
    assert keel.chat().model == new
