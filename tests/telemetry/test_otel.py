"""``open_otel``: Keel's own OpenTelemetry providers, exporting over OTLP/HTTP as ``tracing:`` says."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from keel.config import TracingConfig
from keel.telemetry.otel import open_otel


class Collector(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, str], bytes]]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.received.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()


async def test_spans_reach_the_configured_otlp_endpoint_with_its_headers(collector: Collector) -> None:
    """With ``exporter: otlp``, the endpoint and headers from keel.yaml, a span ends up at
    ``<endpoint>/v1/traces`` as OTLP protobuf, with the service name, once the gateway closes."""
    port = collector.server_address[1]
    settings = TracingConfig.model_validate(
        {"enabled": True, "endpoint": f"http://127.0.0.1:{port}", "headers": {"x-collector-token": "t0k"},
         "service_name": "keel-test", "metrics": False}
    )  # fmt: skip
    otel = open_otel(settings)
    otel.tracer.start_span("chat smart").end()
    await otel.aclose()
    [(path, headers, body)] = collector.received
    assert path == "/v1/traces" and headers["x-collector-token"] == "t0k"
    request = ExportTraceServiceRequest.FromString(body)
    [resource] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    assert service == "keel-test"
    assert [s.name for s in resource.scope_spans[0].spans] == ["chat smart"]


async def test_exporter_none_makes_spans_and_instruments_that_go_nowhere() -> None:
    """``exporter: none`` gives a recording tracer and a meter, and closes without exporting."""
    otel = open_otel(TracingConfig(enabled=True, exporter="none"))
    span = otel.tracer.start_span("chat smart")
    assert span.is_recording()
    span.end()
    otel.meter.create_histogram("gen_ai.client.operation.duration").record(0.1)
    await otel.aclose()
    assert otel.owned == []
