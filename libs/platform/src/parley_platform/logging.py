"""Structured JSON logs with the current trace id, and no secrets.

One line per event, so log shippers need no multi-line parsing; the trace and span
ids join a log line to its trace. Keys that look like credentials are masked before
rendering, whatever a caller passes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|credential)", re.I)
_URI_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


def redact_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key):
            event_dict[key] = "***"
        elif isinstance(value, str) and "://" in value:
            event_dict[key] = _URI_CREDENTIALS.sub(r"\g<scheme>***@", value)
    return event_dict


def add_trace_context(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict["trace_id"] = format(span.trace_id, "032x")
        event_dict["span_id"] = format(span.span_id, "016x")
    return event_dict


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    add_trace_context,
    redact_secrets,
]


def json_handler() -> logging.Handler:
    """A stderr handler rendering every record, stdlib or structlog, as one JSON line."""
    formatter = structlog.stdlib.ProcessorFormatter(
        # ExtraAdder keeps the fields stdlib callers pass with ``extra=``.
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    return handler


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route stdlib logging (Faust, aiokafka, uvicorn) and structlog to one JSON stream."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    root.handlers[:] = [json_handler()]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)
    for noisy in ("aiokafka", "kafka", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's records go through the root handler, not its own formatters.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """The same set-up as a ``logging.config.dictConfig`` mapping, for Faust workers,
    which re-install logging from such a mapping when they start."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"()": "parley_platform.logging.json_handler"}},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {n: {"level": "WARNING"} for n in ("aiokafka", "kafka", "pymongo")},
    }


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
