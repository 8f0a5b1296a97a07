"""What an application using the library mounts: an ASGI app serving Keel's metrics."""

from __future__ import annotations

from typing import Any

from keel.telemetry.exposition import metrics_app, scrape


async def test_the_asgi_app_serves_the_scrape() -> None:
    """``metrics_app()`` answers a GET with the text format ``scrape()`` renders."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}
    await metrics_app()(scope, receive, send)
    assert sent[0]["status"] == 200
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert b"# TYPE keel_request_duration_seconds histogram" in body
    assert b"keel_attempts_total" in scrape()
