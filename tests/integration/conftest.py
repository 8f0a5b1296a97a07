"""A real ``keel mock`` on loopback, and gateways pointed at it with test-speed timeouts."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import web

from keel import ChatResponse, Gateway
from keel.mock import MockServer

from ._relay import CuttableRelay

FAST = {
    "pricing": {"models": {"mock/*": {"input": 1, "output": 2}}},
    "timeouts": {"connect": 1, "first_token": 1.0, "idle": 0.5, "attempt": 5, "total": 15},
    "retry": {"initial_backoff": 0.01, "max_backoff": 0.05, "max_retry_after": 3},
}


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServer]:
    server = MockServer()
    with server.run_in_thread():
        yield server


@pytest.fixture
def uid() -> Callable[[str], str]:
    """Makes model names unique to one test, so the mock's counters and records are its own."""
    token = uuid.uuid4().hex[:8]

    def name(model: str) -> str:
        sep = "," if ":" in model else ":"
        return f"{model}{sep}id={token}"

    return name


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
async def gateway_for(mock_server: MockServer, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """``gateway_for({"smart": [["mock/ok"], "mock/ok"]}, retry={...})``: a gateway on the mock."""
    made: list[Gateway] = []

    def factory(models: dict[str, Any], **overrides: Any) -> Gateway:
        config = merge(
            {
                "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
                "models": models,
                "database": f"sqlite:///{tmp_path}/keel.db",
                **FAST,
            },
            overrides,
        )
        gateway = Gateway.from_config(config)
        made.append(gateway)
        return gateway

    yield factory
    for gateway in made:
        await gateway.aclose()


def user(text: str = "Say hello") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def claude_for(gateway_for: GatewayFactory, mock_server: MockServer) -> GatewayFactory:
    """``claude_for({"smart": ["claude/ok", "mock/ok"]})``: a gateway with an Anthropic provider
    (``claude``, the mock's ``/v1/messages``) beside the OpenAI-format one (``mock``)."""
    root = (mock_server.base_url or "").removesuffix("/v1")

    def factory(models: dict[str, Any], **overrides: Any) -> Gateway:
        providers = {"claude": {"kind": "anthropic", "base_url": root}}
        pricing = {"models": {"claude/*": {"input": 1, "output": 5}}}
        return gateway_for(models, **{"providers": providers, "pricing": pricing, **overrides})

    return factory


async def complete(gateway: Gateway, stream: bool, messages: Any = None, **params: Any) -> ChatResponse:
    """The whole response for model ``smart``, by ``chat`` or by reading ``stream`` to its end."""
    if stream:
        handle = gateway.stream("smart", messages or user(), **params)
        async for _ in handle:
            pass
        assert handle.response is not None
        return handle.response
    return await gateway.chat("smart", messages or user(), **params)


@pytest.fixture
async def relayed(postgres_schema_url: str) -> AsyncIterator[tuple[CuttableRelay, str]]:
    """A relay to PostgreSQL that the test can cut, and the URL of a fresh schema through it."""
    parts = urlsplit(postgres_schema_url)
    relay = CuttableRelay((parts.hostname or "127.0.0.1", parts.port or 5432))
    await relay.start()
    netloc = f"{parts.username + '@' if parts.username else ''}127.0.0.1:{relay.port}"
    yield relay, urlunsplit(parts._replace(netloc=netloc))
    with contextlib.suppress(Exception):
        await relay.cut()


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """An alerts webhook on loopback: its URL, and the events posted to it."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", received
    await runner.cleanup()
