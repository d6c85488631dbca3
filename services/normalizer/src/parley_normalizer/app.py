"""The normalizer's Faust app: one agent over raw snapshots, delivery results and
order alerts, taken in batches, and timers that enforce retention and publish events
a crash left pending.

The three topics are keyed by discussion and have the same partition count, so Faust
co-partitions them: one worker sees every record of a discussion, one batch at a
time and in order within it, which rules out races between a snapshot and a delivery
result of the same thread.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import faust

from parley_platform.batches import consume_batches, faust_batches
from parley_platform.kafka import topic_names
from parley_platform.kafka_security import KafkaSecurity
from parley_platform.logging import get_logger
from parley_platform.metrics import add_metrics_page
from parley_platform.readiness import add_ready_page, lazy_mongo_ping
from parley_platform.settings import load_settings
from parley_platform.streams import LazyResource, create_app
from parley_platform.tracing import failed, job_span
from parley_schemas import DELIVERY_RESULTS, MARKETPLACE_RAW, ORDER_ALERTS, utcnow

from . import retention
from .batches import batch_handler
from .bootstrap import Runtime, bootstrap
from .config import NormalizerSettings

log = get_logger(__name__)

settings = load_settings(NormalizerSettings)  # a bad setting exits 2 at import
app = create_app(
    settings.normalizer_app_id,
    settings,
    web_port=settings.normalizer_web_port,
    web_bind=settings.normalizer_web_bind,
)
sources = topic_names(settings.kafka_topic_prefix, MARKETPLACE_RAW, DELIVERY_RESULTS, ORDER_ALERTS)
source = app.topic(
    *sources,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
# No shutdown hook closes it: every send is awaited, so nothing is buffered, and the
# process exit closes the sockets after Faust has stopped the agent.
runtime: LazyResource[Runtime] = LazyResource(lambda: bootstrap(settings))


@app.agent(source)
async def normalize(stream: faust.StreamT[Any]) -> None:
    """Batches of at most NORMALIZER_BATCH_MAX records, waiting at most
    NORMALIZER_BATCH_WAIT_MS for them; acknowledged once stored (see
    parley_platform.batches and .batches)."""
    rt = await runtime.get()
    await consume_batches(
        faust_batches(stream, settings.normalizer_batch_max, settings.batch_wait_seconds),
        sources,
        batch_handler(rt.normalizer),
        rt.normalizer.handle,
        rt.publisher,
        stage="normalizer",
    )


async def enforce_retention() -> None:
    """Deletes expired discussions (see parley_normalizer.retention for why a timer)."""
    with job_span("retention sweep") as span:
        try:
            rt = await runtime.get()
            await retention.sweep(rt.db, utcnow(), rt.retention, rt.events)
        except Exception as exc:  # the next tick tries again; the stream is never affected
            log.exception("retention sweep failed")
            failed(span, exc)


# Registered by call, not as a decorator: Faust's timer decorator is untyped.
app.timer(interval=settings.retention_sweep_interval_seconds)(enforce_retention)


async def sweep_pending_events() -> None:
    """Publishes events a crash left pending (see Normalizer.sweep_pending), in a trace
    of its own: the events it publishes carry the sweep's context."""
    with job_span("pending-event sweep") as span:
        try:
            rt = await runtime.get()
            older_than = utcnow() - timedelta(seconds=settings.pending_sweep_after_seconds)
            await rt.normalizer.sweep_pending(older_than)
        except Exception as exc:  # the next tick tries again; the stream is never affected
            log.exception("pending-event sweep failed")
            failed(span, exc)


app.timer(interval=settings.pending_sweep_interval_seconds)(sweep_pending_events)


@app.page("/health")
async def health(web: Any, request: Any) -> Any:
    return web.json({"status": "ok", "service": "normalizer"})


# /ready: 503 while MongoDB or the broker is unreachable or no partitions are held.
add_ready_page(
    app,
    "normalizer",
    lazy_mongo_ping(runtime.get),
    settings.kafka_bootstrap_servers,
    KafkaSecurity.of(settings),
)
# /metrics: Prometheus, incl. this worker's consumer lag (its group is the app id).
add_metrics_page(app, "normalizer", settings.normalizer_app_id)
