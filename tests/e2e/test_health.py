"""``/healthz`` and ``/readyz``: alive, and ready only when every model has a usable route."""

from __future__ import annotations

import httpx2 as httpx

from .conftest import KeelFactory, RunningKeel


def test_healthz_and_readyz(keel: RunningKeel) -> None:
    """A server whose routes and state store work is alive and ready."""
    assert httpx.get(f"{keel.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{keel.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["state"] == "ok"


def test_not_ready_without_a_usable_route(keel_for: KeelFactory) -> None:
    """A model whose only provider has no API key makes /readyz answer 503 naming it."""
    running = keel_for(
        {"paid": ["openai/gpt-4o-mini"]},
        providers={"openai": {"profile": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        pricing={"models": {"openai/*": {"input": 1, "output": 1}}},
    )
    ready = httpx.get(f"{running.base_url}/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["models"]["without_usable_route"] == ["paid"]
    assert checks["providers"]["openai"] == "no api_key"
