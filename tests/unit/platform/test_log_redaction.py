"""Secrets never reach a log line or a span; an outage does not flood the log."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parley_platform.logging import (
    ErrorRateLimiter,
    configure_logging,
    json_handler,
    mask_secrets,
    redact_access_path,
)
from parley_platform.tracing import RedactingSpanProcessor

FERNET = "gAAAAABlZ3x0c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("HTTP Request: GET https://rk.example/api?login=shop1&pwd=hunter2&x=1 200", "hunter2"),
        ("HTTP Request: GET https://rk.example/api?login=shop1&pwd=hunter2", "shop1"),
        ("GET /api?token=abc.def-123 HTTP/1.1", "abc.def-123"),
        ("key prl_k1d_s3cr3tvalue presented", "s3cr3tvalue"),
        (f"stored {FERNET}", FERNET),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ('"GET /links/v1.abc.def HTTP/1.1" 200', "v1.abc.def"),
        ("GET /discussions?cursor=eyJvIjoxfQ&limit=5", "eyJvIjoxfQ"),
        ("refresh_token=rt-123&client_secret=cs-9", "rt-123"),
        ("refresh_token=rt-123&client_secret=cs-9", "cs-9"),
    ],
)
def test_known_secret_shapes_are_masked(text: str, secret: str) -> None:
    masked = mask_secrets(text)
    assert secret not in masked
    assert "<redacted>" in masked


def test_ordinary_text_is_left_alone() -> None:
    text = "reply sent command_id=c-1 attempts=2 to https://market.example/api/threads"
    assert mask_secrets(text) == text


def _render(record: logging.LogRecord) -> str:
    stream = io.StringIO()
    handler = json_handler()
    handler.setStream(stream)
    if all(f.filter(record) for f in handler.filters):
        handler.handle(record)
    return stream.getvalue()


def test_the_json_handler_masks_stdlib_messages_and_exceptions() -> None:
    url = "https://rk.example/api?login=shop1&pwd=hunter2"
    try:
        raise RuntimeError(f"failed calling {url}")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "httpx", logging.INFO, __file__, 1, "HTTP Request: GET %s", (url,), sys.exc_info()
        )
    line = _render(record)
    assert line
    assert "hunter2" not in line and "shop1" not in line
    assert json.loads(line)["event"].startswith("HTTP Request: GET https://rk.example/api?")


def test_structlog_events_are_masked_whatever_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test", "INFO")
    try:
        structlog.get_logger("t").info("calling", where="/api?pwd=hunter2", token_hint="x")
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    assert "hunter2" not in err
    assert "calling" in err


def test_httpx_info_lines_are_silenced_by_configure_logging() -> None:
    configure_logging("test", "INFO")
    try:
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


def test_access_lines_come_back_after_a_dict_config_silenced_existing_loggers() -> None:
    # A library that runs logging.config.dictConfig (disable_existing_loggers defaults to
    # True) disables every logger that exists then, uvicorn's access log included.
    logging.getLogger("uvicorn.access")
    logging.config.dictConfig({"version": 1})
    assert logging.getLogger("uvicorn.access").disabled
    # And a uvicorn.Config(log_level="warning") made earlier sets its level.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    configure_logging("test", "INFO")
    try:
        assert not logging.getLogger("uvicorn.access").disabled
        assert logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


def test_uvicorn_access_line_hides_link_tokens_and_cursors() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/links/v1.tok.sig?cursor=abc&key=k", "1.1", 200),
        None,
    )
    assert redact_access_path(record)
    message = record.getMessage()
    assert "v1.tok.sig" not in message and "abc" not in message
    assert "/links/<redacted>" in message


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _error(msg: object, name: str = "svc") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), None)


def test_the_same_error_is_let_through_once_per_window_with_a_count() -> None:
    clock = _Clock()
    limiter = ErrorRateLimiter(10.0, clock=clock)
    assert limiter.filter(_error("broker unreachable"))
    passed = [limiter.filter(_error("broker unreachable")) for _ in range(30)]
    assert not any(passed)
    clock.now += 10.5
    record = _error("broker unreachable")
    assert limiter.filter(record)
    assert record.suppressed == 30  # type: ignore[attr-defined]


def test_the_rate_limit_is_per_logger_and_message_and_spares_info() -> None:
    limiter = ErrorRateLimiter(10.0, clock=_Clock())
    assert limiter.filter(_error("a"))
    assert limiter.filter(_error("b"))
    assert limiter.filter(_error("a", name="other"))
    assert not limiter.filter(_error("a"))
    info = logging.LogRecord("svc", logging.INFO, __file__, 1, "a", (), None)
    assert all(limiter.filter(info) for _ in range(5))


def test_structlog_records_are_keyed_by_event_and_get_the_count() -> None:
    clock = _Clock()
    limiter = ErrorRateLimiter(5.0, clock=clock)
    assert limiter.filter(_error({"event": "handler failed", "reason": "x1"}))
    assert not limiter.filter(_error({"event": "handler failed", "reason": "x2"}))
    clock.now += 6
    event: dict[str, object] = {"event": "handler failed", "reason": "x3"}
    assert limiter.filter(_error(event))
    assert event["suppressed"] == 1


def test_the_same_failure_of_different_things_is_not_suppressed() -> None:
    limiter = ErrorRateLimiter(10.0, clock=_Clock())
    assert limiter.filter(_error({"event": "reply failed", "command_id": "c1"}))
    assert limiter.filter(_error({"event": "reply failed", "command_id": "c2"}))
    assert not limiter.filter(_error({"event": "reply failed", "command_id": "c1", "n": 2}))


def test_span_url_attributes_lose_query_strings_and_tokens() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(
        "GET /links/{token}",
        attributes={
            "http.url": "http://gw/links/v1.tok.sig?x=1",
            "http.target": "/discussions?cursor=abc",
            "url.query": "pwd=hunter2",
        },
    ):
        pass
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["http.url"] == "http://gw/links/<redacted>"
    assert attributes["http.target"] == "/discussions"
    assert attributes["url.query"] == "<redacted>"


def test_an_outage_flood_through_the_services_handler_is_one_line() -> None:
    stream = io.StringIO()
    handler = json_handler()
    handler.setStream(stream)
    logger = logging.getLogger("test.flood")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for _ in range(50):
            logger.error("Unable connect to node with id %s: %s", 1, "refused")
    finally:
        logger.removeHandler(handler)
    assert len(stream.getvalue().splitlines()) == 1
