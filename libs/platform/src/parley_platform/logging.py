"""Structured JSON logs with the current trace id, and no secrets.

One line per event, so log shippers need no multi-line parsing; the trace and span
ids join a log line to its trace. Keys that look like credentials are masked before
rendering, whatever a caller passes; as a backstop, every rendered value (messages,
exception texts, access-log lines) is scanned for known secret shapes (API keys,
Fernet tokens, ``pwd=``/``token=`` query parameters, bearer tokens, download-link
tokens) and those are masked too, so a library that logs a URL cannot leak one.

During an outage every retry fails the same way; the same warning or error from the
same logger is let through at most once per window and the next line that is let
through carries how many were suppressed, so the log stays readable and cheap.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|api[_-]?key|authorization|credential)", re.I)
_URI_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)


def is_secret_name(name: str) -> bool:
    """Whether a field, header or attribute named ``name`` holds a credential, whatever
    its value looks like (its value is then dropped whole, not pattern-masked)."""
    return _SECRET_KEY.search(name) is not None


def redact_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if is_secret_name(key):
            event_dict[key] = "***"
        elif isinstance(value, str) and "://" in value:
            event_dict[key] = _URI_CREDENTIALS.sub(r"\g<scheme>***@", value)
    return event_dict


# Secret shapes masked in every rendered string, whoever logged it.
_QUERY_SECRET = re.compile(
    r"(?P<key>\b(?:pwd|passwd|password|login|token|access_token|refresh_token|id_token|"
    r"key|api_key|apikey|secret|client_secret|cursor|signature|sig)=)[^&\s\"'<>]+",
    re.I,
)
_SCHEME_CREDENTIAL = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I)
_API_KEY = re.compile(r"\bprl_[A-Za-z0-9_-]+")
_FERNET = re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}")
# Not a route template (``/links/{token}``): that names the parameter, it holds none.
_LINK_TOKEN = re.compile(r"(?P<prefix>/links/)(?!\{)[^/?#\s\"'<>]+")
REDACTED = "<redacted>"


def mask_secrets(text: str) -> str:
    """``text`` with every known secret shape replaced by ``<redacted>``.

    Used on whole log lines as a backstop and on URLs before they reach a log or a
    span; the patterns are cheap to test first so the common line costs little.
    """
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\g<key>{REDACTED}", text)
    if "prl_" in text:
        text = _API_KEY.sub(f"prl_{REDACTED}", text)
    if "gAAAAA" in text:
        text = _FERNET.sub(REDACTED, text)
    if "/links/" in text:
        text = _LINK_TOKEN.sub(rf"\g<prefix>{REDACTED}", text)
    if "earer" in text or "asic" in text:
        text = _SCHEME_CREDENTIAL.sub(rf"\g<scheme> {REDACTED}", text)
    return text


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(item) for item in value]
    return value


def mask_secret_patterns(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last processor before rendering: masks secret shapes in every value, including
    the formatted exception, whatever logger produced the record."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_value(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """Masks secret shapes in a stdlib record's message before any handler sees it.

    Installed on the JSON handler (and usable on any other) so a record rendered by a
    formatter that is not ours is masked as well; our own formatter masks again after
    the exception is formatted.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            message = record.getMessage()
            masked = mask_secrets(message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


class ErrorRateLimiter(logging.Filter):
    """Lets the same warning or error (logger, message and what it is about) through
    once per ``window``.

    A broker or database outage makes every retry log the same line many times a
    second; one line per window per kind says as much. The line let through after a
    quiet spell carries ``suppressed``: how many identical lines were dropped since the
    last one. Records below WARNING pass untouched. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        window: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1000,
    ) -> None:
        super().__init__()
        self._window = window
        self._clock = clock
        self._max_keys = max_keys
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or self._window <= 0:
            return True
        key = (record.name, _message_kind(record))
        now = self._clock()
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last[0] < self._window:
                self._seen[key] = (last[0], last[1] + 1)
                return False
            if len(self._seen) >= self._max_keys:
                self._forget_before(now - self._window)
            self._seen[key] = (now, 0)
        suppressed = last[1] if last is not None else 0
        if suppressed:
            if isinstance(record.msg, dict):
                record.msg["suppressed"] = suppressed
            else:
                record.suppressed = suppressed
        return True

    def _forget_before(self, cutoff: float) -> None:
        for key, (since, _) in list(self._seen.items()):
            if since < cutoff:
                del self._seen[key]
        if len(self._seen) >= self._max_keys:
            self._seen.clear()


# Fields that name what a line is about: the same failure of two different replies or
# records is two facts, each let through; the same one retried is one.
IDENTITY_FIELDS = (
    "command_id",
    "discussion_id",
    "connection_id",
    "store_id",
    "file_id",
    "source_topic",
    "partition",
    "offset",
)


def _message_kind(record: logging.LogRecord) -> str:
    """The message template (a structlog event name or a stdlib format string) and the
    identity fields the record carries."""
    if isinstance(record.msg, dict):
        fields: Any = record.msg
        template = str(fields.get("event", ""))
    else:
        fields = record.__dict__
        template = str(record.msg)
    identity = [f"{name}={fields[name]}" for name in IDENTITY_FIELDS if name in fields]
    return " ".join([template, *identity])


def redact_access_path(record: logging.LogRecord) -> bool:
    """uvicorn's access line carries the full path and query: mask capability tokens
    (download links, cursors, keys) in it before it is rendered."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
        record.args = (*args[:2], mask_secrets(args[2]), *args[3:])
    return True


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
            mask_secret_patterns,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(ErrorRateLimiter())  # first: it keys on the unmasked template
    handler.addFilter(RedactingFilter())
    return handler


# Libraries whose INFO lines carry full request URLs (httpx logs every request with
# its query string, which holds Rakuten's login and token) or are chatty; our own
# connector logs one line per marketplace call with method, host, path and status.
QUIET_LOGGERS = ("aiokafka", "kafka", "pymongo", "httpx", "httpcore")


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
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's records go through the root handler at the root's level, not its own
        # formatters or levels; a uvicorn.Config made earlier in the process (it sets
        # these loggers' levels from its log_level) or a dictConfig
        # (disable_existing_loggers defaults to True) must not have silenced them.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.disabled = False
        logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if redact_access_path not in access.filters:
        access.addFilter(redact_access_path)


def dict_config(level: str = "INFO") -> dict[str, Any]:
    """The same set-up as a ``logging.config.dictConfig`` mapping, for Faust workers,
    which re-install logging from such a mapping when they start."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"()": "parley_platform.logging.json_handler"}},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {n: {"level": "WARNING"} for n in QUIET_LOGGERS},
    }


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
