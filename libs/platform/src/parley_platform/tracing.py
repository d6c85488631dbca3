"""OpenTelemetry set-up and trace-context propagation through Kafka headers.

W3C ``traceparent``/``tracestate`` travel as Kafka record headers, so a buyer message
can be followed from the ingest poll through the normalizer to the API. Work nobody
asked for over the network (a scheduled poll, an inbound mail, a delivery attempt, a
sweeper) starts a trace of its own (:func:`job_span`), so what it publishes carries a
context too.

Spans are exported over OTLP/HTTP when ``OTEL_TRACES_EXPORTER=otlp``: the exporter
reads the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, timeouts,
certificates); ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the
resource. Spans are batched and the last batch is flushed when the process exits,
SIGTERM included (:func:`flush_before_termination`).

Spans carry no secrets, by means that share the log redaction's patterns
(:func:`~parley_platform.logging.mask_secrets`, :func:`scrub_attributes`): the HTTP
instrumentation records the request URL, whose path or query may hold a download-link
token, a cursor or a key, so a live span's URL attributes are masked where they are
set (a processor's ``on_start``, and the instrumentation's request hook, which runs
after the ASGI middleware set them again: :func:`redact_span`), a routed request keeps
its route template instead of its raw path and no query string; and every span
leaving the process (name, attributes, events such as a recorded exception and its
message, links, status) is scrubbed once more on its way to the exporter, whatever
set it later.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    Span,
    SpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

from .logging import REDACTED, is_secret_name, mask_secrets

KafkaHeaders = list[tuple[str, bytes]]

# Attributes (old and new semantic conventions) that hold a request URL or part of it.
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.path", "http.route")
QUERY_ATTRIBUTES = ("url.query",)


def redact_url(value: str) -> str:
    """A URL or path without its query string and with capability tokens masked."""
    return mask_secrets(value.split("?", 1)[0])


def _scrub_value(name: str, value: AttributeValue) -> AttributeValue:
    if name in QUERY_ATTRIBUTES:
        return REDACTED
    if isinstance(value, str):
        return redact_url(value) if name in URL_ATTRIBUTES else mask_secrets(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [mask_secrets(item) if isinstance(item, str) else item for item in value]
    return value


def scrub_attributes(attributes: Attributes) -> dict[str, AttributeValue]:
    """``attributes`` without secrets: values of credential-named attributes (a captured
    ``Authorization`` header, say) are dropped whole, URLs lose their query string, a
    routed request's path is its route template, and every other string has the known
    secret shapes masked."""
    scrubbed: dict[str, AttributeValue] = {}
    for name, value in (attributes or {}).items():
        scrubbed[name] = REDACTED if is_secret_name(name) else _scrub_value(name, value)
    route = scrubbed.get("http.route")
    if isinstance(route, str) and route.startswith("/"):
        scrubbed.update(_templated(scrubbed, route))
    return scrubbed


# Where a server span records the requested path; replaced by the route's template.
PATH_ATTRIBUTES = ("http.target", "url.path")
FULL_URL_ATTRIBUTES = ("http.url", "url.full")


def _templated(attributes: Mapping[str, AttributeValue], route: str) -> dict[str, str]:
    """The URL attributes of a routed request with the route template as their path
    (``/links/{token}``): the identifiers in a raw path say nothing a trace needs and
    a capability token is a credential."""
    templated: dict[str, str] = {name: route for name in PATH_ATTRIBUTES if name in attributes}
    for name in FULL_URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and "://" in value:
            scheme, rest = value.split("://", 1)
            templated[name] = f"{scheme}://{rest.split('/', 1)[0]}{route}"
    return templated


def redact_span(span: trace.Span, *_: object) -> None:
    """Scrubs the attributes a live span holds now (see :func:`scrub_attributes`).

    Also the HTTP instrumentation's request hook (``server_request_hook``): the ASGI
    middleware sets its request attributes again *after* the span started, so a
    processor's ``on_start`` alone would see them overwritten.
    """
    attributes = getattr(span, "attributes", None) or {}
    changed = {
        name: value
        for name, value in scrub_attributes(attributes).items()
        if value != attributes.get(name)
    }
    if changed:
        span.set_attributes(changed)


class RedactingSpanProcessor(SpanProcessor):
    """Masks the attributes a span starts with (URLs, headers), so no other processor
    or exporter ever sees them whole."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        redact_span(span)

    def on_end(self, span: ReadableSpan) -> None:
        return None


def scrub_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of a finished span with every string that leaves the process scrubbed."""
    status = span.status
    if status.description:
        status = Status(status.status_code, mask_secrets(status.description))
    return ReadableSpan(
        name=mask_secrets(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=scrub_attributes(span.attributes),
        events=[
            Event(event.name, scrub_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=[Link(link.context, scrub_attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Scrubs every span on its way to ``exporter``: attributes set after the start and
    exception events (whose message and stack trace may quote a URL) included."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([scrub_span(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def service_resource(service: str) -> Resource:
    """The service's resource: ``OTEL_SERVICE_NAME`` (or ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``) names it when set, the service's own name otherwise;
    the other ``OTEL_RESOURCE_ATTRIBUTES`` are kept, with secret shapes masked."""
    resource = Resource.create({SERVICE_NAME: service})
    named = OTELResourceDetector().detect().attributes.get(SERVICE_NAME)
    if named:
        resource = resource.merge(Resource({SERVICE_NAME: named}))
    return Resource(scrub_attributes(resource.attributes), resource.schema_url)


def _exporter(kind: str) -> SpanExporter | None:
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp":
        # OTLP/HTTP (protobuf); endpoint, headers and TLS from the OTEL_EXPORTER_OTLP_*
        # variables, as every OpenTelemetry SDK reads them.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def configure_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """Install a tracer provider; spans are exported only when an exporter is chosen.

    Spans are created either way (their context travels in Kafka headers and log
    lines); the batch processor exports them off the request path and the provider
    flushes what is left when the process exits (its ``atexit`` shutdown).
    """
    provider = TracerProvider(resource=service_resource(service), shutdown_on_exit=True)
    provider.add_span_processor(RedactingSpanProcessor())  # first: before any exporter
    chosen = _exporter(exporter)
    if chosen is not None:
        provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(chosen)))
        flush_before_termination(provider)
    trace.set_tracer_provider(provider)
    return provider


def flush_before_termination(provider: TracerProvider) -> None:
    """Exports the last batch when the process is stopped with SIGTERM.

    ``atexit`` does not run for a process killed by a signal, and uvicorn, after its
    graceful shutdown, raises the SIGTERM it caught again under the handler it found
    at start: this one, which flushes the spans, then lets the signal end the process
    as it would have (exit status included). Faust workers exit through ``sys.exit``,
    where the provider's ``atexit`` shutdown flushes.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        provider.shutdown()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, flush_then_terminate)


@contextmanager
def job_span(
    name: str,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    follows: trace.SpanContext | None = None,
) -> Iterator[trace.Span]:
    """A root span for work a timer or a listener started, not a traced request: a
    trace of its own, whatever context the task was created in, so the records the job
    publishes carry it (:func:`inject_headers` reads the current span). ``follows``
    links it to the span that asked for the work, when there was one (a reply's
    command). An exception is recorded on the span and raised on."""
    tracer = trace.get_tracer("parley.jobs")
    links = [Link(follows)] if follows is not None and follows.is_valid else None
    with tracer.start_as_current_span(
        name,
        context=Context(),
        kind=SpanKind.INTERNAL,
        attributes=dict(attributes or {}),
        links=links,
    ) as span:
        yield span


def failed(span: trace.Span, exc: BaseException) -> None:
    """Marks a job's span failed for an error the job handled itself (logged, retried
    on the next tick), which the span would otherwise not see."""
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def current_span_context() -> trace.SpanContext | None:
    """The current span's context, to link later work to it (:func:`job_span`)."""
    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


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
