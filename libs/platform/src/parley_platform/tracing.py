"""OpenTelemetry set-up and trace-context propagation through Kafka headers.

W3C ``traceparent``/``tracestate`` travel as Kafka record headers, so a buyer message
can be followed from the ingest poll through the normalizer to the API.

Spans carry no secrets: the HTTP instrumentation records the request URL, whose path
or query may hold a download-link token, a cursor or a key; those attributes are
masked as the span starts, before any exporter sees them, and query strings dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from .logging import mask_secrets

KafkaHeaders = list[tuple[str, bytes]]

# Attributes (old and new semantic conventions) that hold a request URL or part of it.
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.path", "http.route")
QUERY_ATTRIBUTES = ("url.query",)


def redact_url(value: str) -> str:
    """A URL or path without its query string and with capability tokens masked."""
    return mask_secrets(value.split("?", 1)[0])


class RedactingSpanProcessor(SpanProcessor):
    """Masks URL attributes as a span starts, so no exporter ever receives them whole."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for name in URL_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str):
                span.set_attribute(name, redact_url(value))
        for name in QUERY_ATTRIBUTES:
            if name in attributes:
                span.set_attribute(name, "<redacted>")

    def on_end(self, span: ReadableSpan) -> None:
        return None


def configure_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """Install a tracer provider; spans are exported only when an exporter is chosen."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(RedactingSpanProcessor())  # first: before any exporter
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
