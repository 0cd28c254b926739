"""OpenTelemetry for every service: traces and metrics, exporters chosen by the standard OTEL_
variables, and W3C trace context carried in Kafka headers from producer to consumer."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Protocol

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

INSTRUMENTATION = "deh_platform"
tracer = trace.get_tracer(INSTRUMENTATION)
meter = metrics.get_meter(INSTRUMENTATION)

messages_consumed = meter.create_counter("deh.messages.consumed", description="Messages whose effect was stored")
messages_skipped = meter.create_counter(
    "deh.messages.skipped", description="Messages of types this service ignores or does not know yet"
)
values_unknown = meter.create_counter(
    "deh.messages.unknown_values", description="Values of closed lists that a newer producer added, kept as they are"
)
messages_failed = meter.create_counter(
    "deh.messages.dead_lettered", description="Messages sent to the dead-letter topic"
)
messages_held = meter.create_counter(
    "deh.messages.held", description="Times a partition was held (paused, to retry) after a transient failure"
)
events_published = meter.create_counter("deh.outbox.published", description="Outbox events published to Kafka")
items_set_aside = meter.create_counter(
    "deh.set_aside",
    description="Items a loop could never process (an event Kafka refuses, a document OpenSearch refuses), "
    "set aside with the reason; attribute kind",
)


class Gauged(Protocol):
    """Something that reports gauge readings: (instrument name, value, attributes)."""

    def readings(self) -> Iterable[tuple[str, float, dict[str, str]]]: ...


_GAUGED: weakref.WeakSet[Gauged] = weakref.WeakSet()


def observe(source: Gauged) -> None:
    """Report `source`'s readings on the gauges below for as long as it lives."""
    _GAUGED.add(source)


def _readings_of(name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, attributes)
            for source in list(_GAUGED)
            for gauge, value, attributes in source.readings()
            if gauge == name
        ]

    return callback


meter.create_observable_gauge(
    "deh.consumer.lag",
    callbacks=[_readings_of("deh.consumer.lag")],
    description="Messages behind the partition's end, per partition",
)
meter.create_observable_gauge(
    "deh.outbox.backlog",
    callbacks=[_readings_of("deh.outbox.backlog")],
    description="Events waiting in the outbox at the last pass",
)


def configure_telemetry(service_name: str) -> None:
    """Install SDK providers once per process. A provider that is already set (by a test, or by
    opentelemetry-instrument) is kept as it is."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        exporter = _span_exporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        readers = [reader for reader in [_metric_reader()] if reader is not None]
        metrics.set_meter_provider(
            MeterProvider(resource=Resource.create({"service.name": service_name}), metric_readers=readers)
        )
    _instrument_pymongo()


def _span_exporter() -> SpanExporter | None:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp" if _otlp_configured() else "none")
    if choice == "console":
        return ConsoleSpanExporter()
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def _metric_reader() -> MetricReader | None:
    choice = os.environ.get("OTEL_METRICS_EXPORTER", "otlp" if _otlp_configured() else "none")
    if choice == "console":
        return PeriodicExportingMetricReader(ConsoleMetricExporter())
    if choice == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return PeriodicExportingMetricReader(OTLPMetricExporter())
    return None


def _otlp_configured() -> bool:
    return any(os.environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


_pymongo_instrumented = False


def _instrument_pymongo() -> None:
    global _pymongo_instrumented
    if not _pymongo_instrumented:
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

        PymongoInstrumentor().instrument()
        _pymongo_instrumented = True


def inject_context(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (traceparent, tracestate) into message headers."""
    propagate.inject(carrier)
    return carrier


def extract_context(headers: Mapping[str, str]) -> Context:
    return propagate.extract(dict(headers))
