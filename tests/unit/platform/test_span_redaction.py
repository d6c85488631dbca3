"""Spans leave a process without credentials, and scheduled work starts its own trace."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parley_platform.tracing import (
    RedactingSpanExporter,
    RedactingSpanProcessor,
    inject_headers,
    job_span,
    service_resource,
)

TOKEN = "tok-5f0e1d2c3b4a"


@pytest.fixture
def exported() -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(memory)))
    return provider, memory


def test_a_routed_request_keeps_its_route_template_not_its_raw_path(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exported
    with provider.get_tracer("t").start_as_current_span(
        "GET /links/{token}",
        attributes={
            "http.route": "/links/{token}",
            "http.target": f"/links/{TOKEN}",
            "http.url": f"http://gw:8000/links/{TOKEN}?download=1",
            "http.request.header.authorization": (f"Bearer prl_{TOKEN}",),
        },
    ):
        pass
    (span,) = memory.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert span.name == "GET /links/{token}"
    assert attributes["http.route"] == "/links/{token}"
    assert attributes["http.target"] == "/links/{token}"
    assert attributes["http.url"] == "http://gw:8000/links/{token}"
    assert attributes["http.request.header.authorization"] == "<redacted>"


def test_attributes_set_later_and_recorded_exceptions_are_scrubbed_on_export(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, memory = exported
    url = f"https://shop.example/sales_ws?action=x&login=boutique&pwd={TOKEN}"
    with (
        pytest.raises(RuntimeError),
        provider.get_tracer("t").start_as_current_span("poll rakuten") as span,
    ):
        span.set_attribute("url.full", url)
        span.add_event("retry", {"detail": f"GET {url} answered 503"})
        raise RuntimeError(f"Server error '503' for url '{url}'")
    (finished,) = memory.get_finished_spans()
    texts = [finished.name, finished.status.description or ""]
    texts += [str(v) for v in (finished.attributes or {}).values()]
    for event in finished.events:
        texts += [event.name, *(str(v) for v in (event.attributes or {}).values())]
    assert any("RuntimeError" in text for text in texts), "the exception is still recorded"
    assert not [text for text in texts if TOKEN in text]


def _global_provider() -> TracerProvider:
    """The process's provider (job_span uses it), installed once per process."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


def test_job_spans_are_roots_linked_to_what_asked_and_travel_in_kafka_headers() -> None:
    provider = _global_provider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("consume") as asking:
        asked = asking.get_span_context()
        with job_span("deliver reply", {"parley.command.id": "c1"}, follows=asked) as job:
            headers = dict(inject_headers())
            job_context = job.get_span_context()
    spans = {span.name: span for span in memory.get_finished_spans()}
    delivered = spans["deliver reply"]
    assert delivered.parent is None
    assert delivered.context.trace_id != asked.trace_id
    assert [link.context.span_id for link in delivered.links] == [asked.span_id]
    assert f"{job_context.trace_id:032x}" in headers["traceparent"].decode()


def test_the_environment_names_the_service_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
    resource = service_resource("ingest")
    assert resource.attributes["service.name"] == "ingest"
    assert resource.attributes["deployment.environment"] == "prod"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "parley-ingest-eu")
    assert service_resource("ingest").attributes["service.name"] == "parley-ingest-eu"
