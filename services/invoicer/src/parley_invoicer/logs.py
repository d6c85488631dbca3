"""One JSON object per log line, on stderr, for the invoicer and uvicorn alike.

A stand-in for ``parley_platform.logging`` until the invoicer adopts it: same shape
(timestamp, level, logger, event, service, plus the record's ``extra`` fields), so
log queries do not change when it does.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}  # uvicorn's ANSI-coloured duplicate
)


class JsonFormatter(logging.Formatter):
    """Renders a record, its ``extra`` fields and any exception as one JSON line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "service": self._service,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger (ours, uvicorn's, WeasyPrint's) to one JSON stream on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # Let uvicorn's records reach the root handler instead of its own formatters.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Per-step progress and font-subsetting chatter: a dozen lines per invoice at INFO.
    for chatty in ("weasyprint.progress", "fontTools"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
