"""Log lines are single JSON objects that carry the record's extra fields."""

from __future__ import annotations

import json
import logging
import sys

from parley_invoicer.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extra_fields() -> None:
    record = logging.LogRecord("parley_invoicer.service", logging.INFO, "", 0, "issued", None, None)
    record.invoice_number = "FA-2026-000001"
    record.color_message = "\x1b[32missued\x1b[0m"  # what uvicorn adds

    line = JsonFormatter("invoicer").format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["event"] == "issued"
    assert entry["level"] == "info"
    assert entry["service"] == "invoicer"
    assert entry["invoice_number"] == "FA-2026-000001"
    assert "color_message" not in entry


def test_exceptions_stay_on_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, "", 0, "failed", (), exc_info=sys.exc_info()
        )

    entry = json.loads(JsonFormatter("invoicer").format(record))

    assert "ValueError: boom" in entry["exception"]
