"""Wires the normalizer: MongoDB store, Kafka publisher, handlers. The one place that
knows concrete adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parley_connectors.registry import families
from parley_platform.kafka import KafkaPublisher
from parley_platform.mongo import connect
from parley_schemas import CONVERSATION_EVENTS
from parley_store import ensure_indexes

from .adapters.kafka_events import KafkaEventSink
from .adapters.mongo_store import MongoDiscussionStore, ensure_pending_index
from .config import NormalizerSettings
from .domain.retention import RetentionPolicies
from .handlers import Normalizer
from .ports import EventSink


@dataclass
class Runtime:
    normalizer: Normalizer
    publisher: KafkaPublisher
    mongo: AsyncMongoClient[Any]
    db: AsyncDatabase[Any]
    retention: RetentionPolicies
    events: EventSink  # conversation events outside the record path (retention)

    async def close(self) -> None:
        await self.publisher.stop()
        await self.mongo.close()


async def bootstrap(settings: NormalizerSettings) -> Runtime:
    families()  # reply deadlines are the families': an incomplete one stops start-up here
    client, db = connect(
        settings.mongodb_uri.get_secret_value(), settings.mongodb_database, "normalizer"
    )
    await ensure_indexes(db)
    await ensure_pending_index(db)
    publisher = KafkaPublisher.from_settings(settings, "normalizer")
    await publisher.warm_up(CONVERSATION_EVENTS)
    retention = RetentionPolicies.with_default_days(settings.retention_default_days)
    store = MongoDiscussionStore(
        db,
        by_id_reads=settings.normalizer_by_id_reads,
        write_chunk=settings.normalizer_write_chunk,
    )
    await store.warm_up()
    events = KafkaEventSink(publisher)
    normalizer = Normalizer(store, events, retention)
    return Runtime(
        normalizer=normalizer,
        publisher=publisher,
        mongo=client,
        db=db,
        retention=retention,
        events=events,
    )
