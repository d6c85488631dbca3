"""Prometheus metrics: every family Parley exports, declared once, in one registry.

Alerts, dashboards, the Helm chart's ServiceMonitor and KEDA's lag trigger depend on
these names and labels, so they are declared here and nowhere else, each with the
HELP text an on-call reader sees. Labels carry classes only (HTTP method, route
template, status class, topic, partition, consumer group, marketplace family,
outcome): never a discussion, store, connection or command id, a token or anything a
caller chooses, so the number of series stays bounded whatever the traffic.

Each process has one registry (:data:`REGISTRY`, with the process and GC collectors),
served at ``GET /metrics`` on the service's own HTTP port: FastAPI apps through
:mod:`parley_platform.http_metrics`, Faust workers through :func:`add_metrics_page`.
Values that live elsewhere and are cheap to read (consumer lag, connections needing
attention) are refreshed when scraped, by callbacks registered with :func:`on_scrape`,
each under a short deadline so a scrape never hangs on Kafka or MongoDB.

Counting happens in handlers, schedulers and bootstraps, never in domain models: the
domain stays free of this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from .logging import get_logger

log = get_logger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
SCRAPE_REFRESH_TIMEOUT = 2.0

REGISTRY = CollectorRegistry()
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

SERVICE = Info(
    "parley_service",
    "The Parley service this process runs (1 per process; join on it by job/instance).",
    registry=REGISTRY,
)

# --- HTTP -----------------------------------------------------------------------------

HTTP_REQUEST_DURATION = Histogram(
    "parley_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by HTTP method, route "
    "template (e.g. /discussions/{discussion_id}; 'unmatched' for unknown paths) and "
    "status class (2xx..5xx).",
    ["method", "route", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)

# --- Kafka ----------------------------------------------------------------------------

KAFKA_CONSUMER_LAG = Gauge(
    "parley_kafka_consumer_lag",
    "Records on a partition this process consumes that its consumer group has not "
    "committed yet (highwater minus committed offset), refreshed on scrape. One series "
    "per partition assigned to this process; summed over instances it is the group's lag.",
    ["consumer_group", "topic", "partition"],
    registry=REGISTRY,
)
RECORDS_PROCESSED = Counter(
    "parley_records_processed",
    "Records a stream stage handled successfully, by stage and source topic.",
    ["stage", "topic"],
    registry=REGISTRY,
)
RECORDS_FAILED = Counter(
    "parley_records_failed",
    "Handler attempts that failed, by stage, source topic and failure class: "
    "transient (retried until the dependency is back), unprocessable (dead-lettered "
    "at once) or bug (retried a few times, then dead-lettered).",
    ["stage", "topic", "failure_class"],
    registry=REGISTRY,
)
RECORDS_DEAD_LETTERED = Counter(
    "parley_records_dead_lettered",
    "Records sent to the dead-letter topic, by stage, source topic and failure class "
    "(unprocessable includes undecodable records). Any increase needs a person.",
    ["stage", "topic", "failure_class"],
    registry=REGISTRY,
)

# --- ingest ---------------------------------------------------------------------------


class SyncOutcome(StrEnum):
    """How one scheduled sync pass of a connection ended (label ``outcome``)."""

    OK = "ok"  # reached the end, cursor moved
    AUTH_FAILED = "auth_failed"  # credentials refused: the connection needs attention
    UNAVAILABLE = "unavailable"  # 5xx, timeout, network: backed off
    RATE_LIMITED = "rate_limited"  # 429: retried after the marketplace's delay
    INTERRUPTED = "interrupted"  # the sync lease ended mid-pass: the next owner redoes it
    ERROR = "error"  # a fault on Parley's side (bug, database): see the ingest log


SYNCS = Counter(
    "parley_syncs",
    "Scheduled sync passes of marketplace connections, by marketplace family and outcome "
    "(ok, auth_failed, unavailable, rate_limited, interrupted, error).",
    ["family", "outcome"],
    registry=REGISTRY,
)
SYNC_DURATION = Histogram(
    "parley_sync_duration_seconds",
    "Duration of a scheduled sync pass, by marketplace family.",
    ["family"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY,
)
CONNECTIONS_NEEDING_ATTENTION = Gauge(
    "parley_connections_needing_attention",
    "Connections not synced until a person acts (the marketplace refused their "
    "credentials), by marketplace family; read from the database on scrape, so every "
    "ingest instance reports the same total: alert on max().",
    ["family"],
    registry=REGISTRY,
)

# --- responder ------------------------------------------------------------------------


class DeliveryOutcome(StrEnum):
    """What happened to a reply at the marketplace (label ``outcome``)."""

    SENT = "sent"
    FAILED = "failed"  # refused, or out of retries without landing
    UNKNOWN = "unknown"  # may have landed; the merchant decides
    RETRIED = "retried"  # a fault to retry: the reply is parked until its next attempt


DELIVERIES = Counter(
    "parley_deliveries",
    "Reply deliveries by marketplace family and outcome: sent, failed, unknown (may "
    "have landed, cannot be told) and retried (one per parked retry).",
    ["family", "outcome"],
    registry=REGISTRY,
)
AUTORESPONSES = Counter(
    "parley_autoresponses",
    "Conversation events the autoresponder decided on: sent (an autoresponse handed to "
    "the delivery queue; reason 'none') or skipped, with the skip reason (a fixed set).",
    ["outcome", "reason"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE = Gauge(
    "parley_outbox_oldest_age_seconds",
    "Age of the oldest record waiting in the service's outbox (0 when empty): the "
    "responder's delivery queue, the gateway's commands not yet on Kafka; read on "
    "scrape; the outbox is shared by the instances, so each reports it: alert on max().",
    registry=None,  # exported by its service: see export()
)
OUTBOX_QUEUED = Gauge(
    "parley_outbox_queued",
    "Records waiting in the service's outbox, read on scrape: the responder's replies "
    "accepted and not settled, the gateway's commands not yet acknowledged by Kafka.",
    registry=None,  # exported by its service: see export()
)

# --- invoicer -------------------------------------------------------------------------

INVOICES_RENDERED = Counter(
    "parley_invoices_rendered",
    "Invoice PDFs rendered, by outcome (ok, error: the number was spent without a PDF).",
    ["outcome"],
    registry=REGISTRY,
)
INVOICE_RENDER_DURATION = Histogram(
    "parley_invoice_render_duration_seconds",
    "Time to render one invoice PDF.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,  # exported by its service: see export()
)

# --- labels ---------------------------------------------------------------------------

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str | None) -> str:
    """The method, or ``other``: a client can send any token as a method."""
    upper = (method or "").upper()
    return upper if upper in HTTP_METHODS else "other"


def status_class(status: int) -> str:
    """``2xx`` … ``5xx``: the status class, never the code itself (bounded, and what
    alerts ask about)."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def describe_service(name: str) -> None:
    """Names the service in ``parley_service_info``."""
    SERVICE.info({"service": name})


_exported: set[Any] = set()


def export(*collectors: Any) -> None:
    """Adds unlabelled families to the registry, in the one service that owns them.

    A labelled family shows no sample until something is counted, but an unlabelled
    one always shows its value: declared in every process, the gateway would report an
    outbox age of 0 beside the responder's real one. Idempotent.
    """
    for collector in collectors:
        if collector not in _exported:
            REGISTRY.register(collector)
            _exported.add(collector)


# --- scraping -------------------------------------------------------------------------

Refresh = Callable[[], Awaitable[None]]
_refreshers: list[Refresh] = []


def on_scrape(refresh: Refresh) -> Callable[[], None]:
    """Runs ``refresh`` before every scrape (bounded by a deadline; a failure leaves the
    last values). Answers a function that unregisters it."""
    _refreshers.append(refresh)

    def unregister() -> None:
        if refresh in _refreshers:
            _refreshers.remove(refresh)

    return unregister


async def _refresh(refresh: Refresh, within: float) -> None:
    try:
        async with asyncio.timeout(within):
            await refresh()
    except Exception as exc:  # a scrape must answer whatever a dependency does
        # The class only: an error text may carry an address or a query.
        log.debug("metrics refresh failed", error=type(exc).__name__)


async def scrape(within: float = SCRAPE_REFRESH_TIMEOUT) -> bytes:
    """The registry in Prometheus' text format, after refreshing scrape-time values."""
    await asyncio.gather(*(_refresh(r, within) for r in list(_refreshers)))
    return generate_latest(REGISTRY)


def add_metrics_page(app: Any, service: str, consumer_group: str) -> None:
    """Serves ``GET /metrics`` on a Faust app's web server (beside ``/ready``) and
    reports the worker's consumer lag for ``consumer_group``."""
    from .consumer_lag import ConsumerLag, FaustLag

    describe_service(service)
    on_scrape(ConsumerLag(consumer_group, FaustLag(app)).refresh)

    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset in content_type: the whole header goes as a header.
        return web.bytes(await scrape(), headers={"Content-Type": CONTENT_TYPE})

    app.page("/metrics")(metrics)
