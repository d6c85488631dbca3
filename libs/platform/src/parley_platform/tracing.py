"""OpenTelemetry set-up and trace-context propagation through Kafka headers.

W3C ``traceparent``/``tracestate`` travel as Kafka record headers, so a buyer message
can be followed from the ingest poll through the normalizer to the API.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

KafkaHeaders = list[tuple[str, bytes]]


def configure_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """Install a tracer provider; spans are exported only when an exporter is chosen."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def inject_headers(context: Context | None = None) -> KafkaHeaders:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(key, value.encode()) for key, value in carrier.items()]


def extract_context(
    headers: Iterable[tuple[str, bytes]] | None,
) -> Context:
    carrier: dict[str, str] = {}
    for key, value in headers or ():
        if isinstance(value, bytes | bytearray):
            carrier[key] = bytes(value).decode(errors="replace")
    return propagate.extract(carrier)
