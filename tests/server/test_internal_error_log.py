"""An unexpected exception is logged with its traceback, but what it quotes of a request's content
— an e-mail address, a card number — is masked like everything else Keel writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import keel.server.app as server_app
from keel.types import ChatRequest

from .test_asgi_stream import CountingProvider, app_with, scope

QUOTED = "cannot route for jane.doe@example.org paying with 4111 1111 1111 1111"


class FailingProvider(CountingProvider):
    async def chat(self, request: ChatRequest, route: Any, limits: Any) -> Any:
        raise RuntimeError(QUOTED)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def error(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


async def test_an_internal_error_is_logged_without_the_personal_data_it_quotes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder()
    monkeypatch.setattr(server_app, "log", recorder)
    app = app_with(FailingProvider())
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope(), receive, send)
    assert sent[0]["status"] == 500
    [line] = [line for line in recorder.lines if line["event"] == "internal error"]
    written = orjson.dumps(line).decode() + b"".join(m.get("body", b"") for m in sent).decode()
    assert "RuntimeError" in line["error"] and "raise RuntimeError(QUOTED)" in line["traceback"]
    assert "jane.doe@example.org" not in written and "4111 1111 1111 1111" not in written
