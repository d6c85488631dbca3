"""A local stand-in for an OpenTelemetry collector: an OTLP/HTTP trace receiver.

Services started with ``OTEL_TRACES_EXPORTER=otlp`` and
``OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.endpoint>`` post protobuf-encoded
``ExportTraceServiceRequest`` bodies to ``/v1/traces``, exactly as they would to a
real collector; the receiver decodes them with opentelemetry-proto and keeps every
span for assertions (what a test asks a trace to show, or that no secret is in one).

It runs a small threaded HTTP server on a free loopback port, so it works across
processes and needs nothing but the Python packages the services already depend on.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACES_PATH = "/v1/traces"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector received it (ids in hex, as logs and headers show them)."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    scope: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    links: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    status_message: str = ""

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id

    def texts(self) -> Iterator[str]:
        """Every string the span carries out of the process: name, attributes, events,
        links, status and resource (what a secret scan must look at)."""
        yield self.name
        yield self.scope
        yield self.status_message
        for attributes in (self.attributes, self.resource):
            yield from _strings(attributes)
        for name, attributes in self.events:
            yield name
            yield from _strings(attributes)
        for _, _, attributes in self.links:
            yield from _strings(attributes)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode(errors="replace")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def decode_request(body: bytes) -> list[ReceivedSpan]:
    """The spans of one ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        scope=scope_spans.scope.name,
                        attributes=_attributes(span.attributes),
                        resource=resource,
                        events=[(e.name, _attributes(e.attributes)) for e in span.events],
                        links=[
                            (link.trace_id.hex(), link.span_id.hex(), _attributes(link.attributes))
                            for link in span.links
                        ],
                        status_message=span.status.message,
                    )
                )
    return spans


class OtlpReceiver:
    """``with OtlpReceiver() as receiver:`` serves until the block ends; point a
    process at ``receiver.endpoint`` (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.requests = 0
        self.headers: list[dict[str, str]] = []  # of every export request, for assertions
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != TRACES_PATH:
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                try:
                    spans = decode_request(body)
                except Exception:  # a malformed body: what a collector answers
                    self.send_error(400)
                    return
                receiver._add(spans, dict(self.headers.items()))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet: pytest output is for failures

        return Handler

    def _add(self, spans: list[ReceivedSpan], headers: dict[str, str]) -> None:
        with self._arrived:
            self._spans.extend(spans)
            self.requests += 1
            self.headers.append(headers)
            self._arrived.notify_all()

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(
        self, found: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """Waits until ``found`` holds for the spans received so far; answers them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not found(list(self._spans)):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({f"{s.service}:{s.name}" for s in self._spans})
                    raise AssertionError(f"spans not received within {timeout} s; got {names}")
                self._arrived.wait(left)
            return list(self._spans)

    def start(self) -> OtlpReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otlp-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def tracing_env(receiver: OtlpReceiver) -> dict[str, str]:
    """What a service process needs to export its spans to ``receiver`` promptly."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        # Export within a second rather than five: tests wait for spans.
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
