"""The normalizer's Faust app: one agent over raw snapshots and delivery results.

Both topics are keyed by discussion and have the same partition count, so Faust
co-partitions them: one worker sees every record of a discussion, one at a time,
which rules out races between a snapshot and a delivery result of the same thread.
"""

from __future__ import annotations

from typing import Any

import faust

from parley_platform.kafka import topic_names
from parley_platform.streams import LazyResource, consume_envelopes, create_app
from parley_schemas import DELIVERY_RESULTS, MARKETPLACE_RAW

from .bootstrap import Runtime, bootstrap
from .config import NormalizerSettings

settings = NormalizerSettings()
app = create_app(
    settings.normalizer_app_id,
    settings,
    web_port=settings.normalizer_web_port,
    web_bind=settings.normalizer_web_bind,
)
sources = topic_names(settings.kafka_topic_prefix, MARKETPLACE_RAW, DELIVERY_RESULTS)
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
    rt = await runtime.get()
    await consume_envelopes(
        stream.events(),
        sources,
        rt.normalizer.handle,
        rt.publisher,
        stage="normalizer",
    )


@app.page("/health")
async def health(web: Any, request: Any) -> Any:
    return web.json({"status": "ok", "service": "normalizer"})
