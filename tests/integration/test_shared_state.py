"""Two gateways sharing Redis act as two replicas: one's open circuit is the other's."""

from __future__ import annotations

from keel import Gateway
from keel.mock import MockServer

from .conftest import FAST, merge, user


async def test_replicas_share_breaker_state(mock_server: MockServer, redis_url: str, uid, tmp_path) -> None:
    """Failures seen by replica A open the circuit for replica B, which then skips the route."""
    down, backup = uid("error-503"), uid("ok")
    config = merge(
        {
            "providers": {"mock": {"profile": "generic", "base_url": mock_server.base_url}},
            "database": f"sqlite:///{tmp_path}/keel.db",
            "models": {"smart": [f"mock/{down}", f"mock/{backup}"]},
            "state": redis_url,
            "retry": {"max_attempts": 1},
            "breaker": {"failure_threshold": 2, "open_for": 30},
        },
        FAST,
    )
    async with Gateway.from_config(config) as a, Gateway.from_config(config) as b:
        for _ in range(2):
            assert (await a.chat("smart", user())).route == f"mock/{backup}"
        assert len(mock_server.attempts(model=down)) == 2
        assert (await b.chat("smart", user())).route == f"mock/{backup}"
        assert len(mock_server.attempts(model=down)) == 2  # B never tried the open route
