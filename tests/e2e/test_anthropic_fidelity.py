"""Claude to Claude through ``keel serve`` loses nothing: the request reaches Anthropic as the client
wrote it (thinking blocks, signatures, ``cache_control``) with only the canary note added to its system
text, and the client gets the upstream's own bytes."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from keel.mock import MockServer

from .._support.markers import without_canary
from ..integration.test_anthropic_routes import NATIVE, wire  # noqa: F401 (wire is a fixture)
from .conftest import KeelFactory


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
def test_claude_to_claude_is_passed_through(
    keel_for: KeelFactory,
    upstream: MockServer,
    uid,
    wire: bytearray,  # noqa: F811
    stream: bool,
) -> None:
    """The upstream sees the client's body but for the model; the client gets exactly the upstream's bytes."""
    model = uid("ok:tokens=3,reasoning_tokens=2,cached_tokens=2,cache_write_tokens=1")
    running = keel_for({"smart": [f"claude/{model}"]})
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "extended-cache-ttl-2025-04-11"}
    response = httpx.post(
        f"{running.base_url}/v1/messages", json={**NATIVE, "stream": stream}, headers=headers, timeout=10
    )
    assert response.status_code == 200
    assert response.content == bytes(wire)
    [record] = upstream.attempts(model=model)
    # byte for byte but the canary note, a text block after the client's (its cache_control kept)
    sent, _ = without_canary(record["body"])
    assert sent == {**NATIVE, "model": model, **({"stream": True} if stream else {})}
    assert record["headers"]["anthropic-beta"] == "extended-cache-ttl-2025-04-11"
    if stream:
        assert b"event: ping\n" in response.content and b'"signature_delta"' in response.content
    else:
        message = response.json()
        assert [block["type"] for block in message["content"]] == ["thinking", "text"]
        assert message["content"][0]["signature"].startswith("sig_")
        assert message["usage"]["cache_read_input_tokens"] == 2
        assert message["usage"]["cache_creation_input_tokens"] == 1
