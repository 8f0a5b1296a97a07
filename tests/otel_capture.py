"""The process's global OpenTelemetry providers, set once, capturing spans and metrics in memory.

OpenTelemetry lets a process set its global providers only once, so every test that traces through
``tracing.exporter: global`` shares these and picks out its own spans (by trace id) and data points
(by its unique model names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

__all__ = ["Capture", "capture", "points"]


@dataclass
class Capture:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def trace(self, trace_id: int) -> list[ReadableSpan]:
        """The finished spans of one trace, in the order they ended."""
        spans = self.spans.get_finished_spans()
        return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


_capture: Capture | None = None


def capture() -> Capture:
    """The in-memory exporter and metric reader behind the global providers (set on first use)."""
    global _capture
    if _capture is None:
        spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracing)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _capture = Capture(spans, reader)
    return _capture


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """Every data point of the metric ``name`` collected now."""
    found: list[Any] = []
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found
