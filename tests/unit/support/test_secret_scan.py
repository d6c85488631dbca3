"""The e2e secret scan finds a secret however it is written, and says where, not what.

The session-end scan (tests/e2e/conftest.py) passing means nothing if it cannot see a
leak: these feed it leaks in every form it claims to catch, in a log file, in spans
as the OTLP receiver decodes them from a real exporter's request, and in records.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.otlp import decode_request
from support.secret_scan import SecretLedger, summary

TOKEN = "rk-Zq3v_9XkL0pWm2Tn8Yb"
PEPPER = "pepper+/=Vh2k9Qx7Lm"


@pytest.fixture
def ledger() -> SecretLedger:
    ledger = SecretLedger()
    ledger.add("Rakuten token", TOKEN)
    ledger.add("API_KEY_PEPPER", PEPPER)
    ledger.add_basic("Allegro client secret", "client-1", "as-Hq8s7d6f5g4h3j")
    ledger.add("download-link token", "v1.aGVsbG8.c2lnbmF0dXJl", message_content=True)
    return ledger


def test_a_clean_log_has_no_leak(ledger: SecretLedger, tmp_path: Path) -> None:
    log = tmp_path / "ingest.log"
    log.write_text(
        '{"event": "marketplace call", "path": "/rakuten/fr/sales_ws", "query": "pwd=<redacted>"}\n'
        '{"event": "GET /links/<redacted> 200", "route": "/links/{token}"}\n'
    )
    assert ledger.scan_logs([log]) == (2, [])


@pytest.mark.parametrize(
    "line",
    [
        f"GET https://shop/sales_ws?login=x&pwd={TOKEN} 200",
        f"error: {quote(PEPPER, safe='')}",
        "Authorization: Basic " + base64.b64encode(b"client-1:as-Hq8s7d6f5g4h3j").decode(),
        "sent prl_Abcdefghijklmnop1234 to the CLI",
        "GET /links/v1.unknownToken123456.sig 200",
        "Bearer eyJhbGciOiJIUzI1NiJ9.payload",
    ],
)
def test_each_form_of_a_leak_is_found_with_its_place_but_not_its_value(
    ledger: SecretLedger, tmp_path: Path, line: str
) -> None:
    log = tmp_path / "gateway.log"
    log.write_text("first line\n" + line + "\n")
    _, leaks = ledger.scan_logs([log])
    assert leaks and all(leak.where == "gateway.log:2" for leak in leaks)
    report = summary(leaks)
    assert TOKEN not in report and PEPPER not in report


def test_spans_are_scanned_as_a_collector_receives_them(ledger: SecretLedger) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "ingest"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("poll rakuten") as span:
        span.add_event("retry", {"url": f"https://shop/sales_ws?pwd={TOKEN}"})
    body = encode_spans(memory.get_finished_spans()).SerializeToString()
    (received,) = decode_request(body)
    leaks = ledger.scan_spans([received])
    assert "Rakuten token" in {leak.label for leak in leaks}
    assert {leak.where for leak in leaks} == {"span ingest:'poll rakuten'"}


def test_records_may_carry_a_link_but_never_a_credential(ledger: SecretLedger) -> None:
    reply = "Voici la facture : http://gw/links/v1.aGVsbG8.c2lnbmF0dXJl"
    assert ledger.scan_records([("record raw[0]@1", reply)]) == []
    (leak,) = ledger.scan_records([("record raw[0]@2", f"token={TOKEN}")])[:1]
    assert leak.where == "record raw[0]@2"
