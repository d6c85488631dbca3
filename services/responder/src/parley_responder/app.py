"""The responder's Faust app: one agent over reply commands, one over conversation
events (autoresponders).

The agents only accept replies (:mod:`parley_responder.scheduler`): once a command is
durably in the outbox its offset may be committed, and the reply is delivered by its
connection's worker, so a throttled or failing marketplace never holds a partition.
Commands are keyed by discussion and a connection's worker takes them in order, so
one discussion's replies are delivered in the order the merchant wrote them.

A marketplace or SMTP relay that is unavailable is transient for the stream: the
autoresponder's event (and its shop copy) is retried until the relay is back, never
dead-lettered (:func:`parley_platform.streams.classify`).

Reply commands are taken in batches (:mod:`parley_platform.batches`: at most
RESPONDER_BATCH_MAX, waiting at most RESPONDER_BATCH_WAIT_MS), accepted with bulk
writes and acknowledged once accepted. Only acceptance is batched: what goes out to a
marketplace, and the outcome written around it (``sending`` before the call,
``sent``/``failed``/``unknown`` right after), stays per delivery in its connection's
worker, since that order is what "at most once" rests on, and writing outcomes in
bulk would hold one connection's delivery truth behind another's. The outcomes the
responder publishes (``delivery.results``) are stored in bulk by the normalizer, in
the batches it takes with the marketplace snapshots.

Conversation events stay one at a time: an autoresponse reads its discussion and
sends the shop's copy over SMTP, once, which cannot be done in bulk.
"""

from __future__ import annotations

from typing import Any

import faust

from parley_platform.batches import consume_batches, faust_batches
from parley_platform.kafka import topic_names
from parley_platform.kafka_security import KafkaSecurity
from parley_platform.metrics import add_metrics_page
from parley_platform.readiness import add_ready_page, lazy_mongo_ping
from parley_platform.settings import load_settings
from parley_platform.streams import LazyResource, RetryPolicy, consume_envelopes, create_app
from parley_responder.bootstrap import MAY_COME_BACK, Runtime, bootstrap
from parley_responder.config import ResponderSettings
from parley_schemas import CONVERSATION_COMMANDS, CONVERSATION_EVENTS

settings = load_settings(ResponderSettings)  # a bad setting exits 2 at import
app = create_app(
    settings.responder_app_id,
    settings,
    web_port=settings.responder_web_port,
    web_bind=settings.responder_web_bind,
)
sources = topic_names(settings.kafka_topic_prefix, CONVERSATION_COMMANDS)
commands = app.topic(
    *sources,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
# Autoresponders (F19) follow the normalizer's conversation events. Same key (the
# discussion) and partition count as the commands: the topics are co-partitioned, so
# one worker owns a discussion's replies and its autoresponse alike.
event_sources = topic_names(settings.kafka_topic_prefix, CONVERSATION_EVENTS)
conversation_events = app.topic(
    *event_sources,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
)
runtime: LazyResource[Runtime] = LazyResource(lambda: bootstrap(settings))
policy = RetryPolicy(transient=MAY_COME_BACK)


@app.agent(commands)
async def respond(stream: faust.StreamT[Any]) -> None:
    rt = await runtime.get()
    await consume_batches(
        faust_batches(stream, settings.responder_batch_max, settings.batch_wait_seconds),
        sources,
        rt.scheduler.handle_batch,
        rt.scheduler.handle,
        rt.publisher,
        stage="responder",
        policy=policy,
    )


@app.agent(conversation_events)
async def autorespond(stream: faust.StreamT[Any]) -> None:
    rt = await runtime.get()
    await consume_envelopes(
        stream.events(),
        event_sources,
        rt.autoresponder.handle,
        rt.publisher,
        stage="autoresponder",
        policy=policy,
    )


@app.page("/health")
async def health(web: Any, request: Any) -> Any:
    return web.json({"status": "ok", "service": "responder"})


# /ready: 503 while MongoDB or the broker is unreachable or no partitions are held.
add_ready_page(
    app,
    "responder",
    lazy_mongo_ping(runtime.get),
    settings.kafka_bootstrap_servers,
    KafkaSecurity.of(settings),
)
# /metrics: Prometheus, incl. this worker's consumer lag (its group is the app id).
add_metrics_page(app, "responder", settings.responder_app_id)
