"""``open_otel``: the OpenTelemetry tracer and meter a gateway's ``tracing:`` settings ask for.

Imported only when tracing is on, and so is OpenTelemetry (the ``otel`` extra). ``otlp``,
``console`` and ``none`` (spans and aggregates made, exported nowhere) build providers of Keel's
own, which ``aclose`` flushes and shuts down; ``global`` uses the ones the application installed
(``opentelemetry.trace.set_tracer_provider``), left to it.
What the settings leave unset, the SDK reads from the standard ``OTEL_*`` variables (endpoint,
headers, batch sizes, resource attributes).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import TracingConfig

__all__ = ["Otel", "open_otel"]

SCOPE = "keel"


@dataclass(eq=False)
class Otel:
    """A tracer, a meter (None when ``tracing.metrics`` is off) and the providers Keel owns."""

    tracer: Any
    meter: Any
    owned: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        """Export what is buffered and stop the providers Keel made (off the event loop: a flush
        may wait on the network)."""
        for provider in self.owned:
            await asyncio.to_thread(provider.shutdown)
        self.owned.clear()


def open_otel(settings: TracingConfig) -> Otel:
    """The tracer and meter for ``settings``.

    Raises:
        ConfigError: the ``otel`` extra is not installed.
    """
    try:
        from opentelemetry import metrics, trace
    except ImportError:
        raise ConfigError("tracing.enabled needs the otel extra: pip install 'keel[otel]'") from None
    if settings.exporter == "global":
        meter = metrics.get_meter(SCOPE) if settings.metrics else None
        return Otel(trace.get_tracer(SCOPE), meter)
    try:
        return _own(settings)
    except ImportError:
        raise ConfigError("tracing.enabled needs the otel extra: pip install 'keel[otel]'") from None


def _own(settings: TracingConfig) -> Otel:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    attributes = {}
    if settings.service_name:
        attributes["service.name"] = settings.service_name
    elif not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "keel"
    resource = Resource.create(attributes)
    spans, points = _exporters(settings)
    tracing = TracerProvider(resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
    if spans is not None:
        tracing.add_span_processor(BatchSpanProcessor(spans))
    owned: list[Any] = [tracing]
    meter = None
    if settings.metrics:
        if points is None:
            reader: Any = InMemoryMetricReader()  # aggregated as ever, never collected
        else:
            interval = settings.metrics_interval * 1000
            reader = PeriodicExportingMetricReader(points, export_interval_millis=interval)
        metering = MeterProvider(resource=resource, metric_readers=[reader])
        owned.append(metering)
        meter = metering.get_meter(SCOPE)
    return Otel(tracing.get_tracer(SCOPE), meter, owned)


def _exporters(settings: TracingConfig) -> tuple[Any, Any]:
    """The span and metric exporters: OTLP over HTTP (protobuf), the console, or none."""
    if settings.exporter == "none":
        return None, None
    if settings.exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(), ConsoleMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {name: value.get_secret_value() for name, value in settings.headers.items()} or None
    base = settings.endpoint.rstrip("/") if settings.endpoint else None
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None, headers=headers),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None, headers=headers),
    )
