"""A plain aiokafka consumer loop for services that are not Faust apps (ingest).

It feeds :func:`parley_platform.streams.consume_envelopes`, so decoding, dead letters,
retries and tracing behave exactly as in the Faust workers, and it commits a record's
offset only once the handler is done with it: a crash re-delivers, never skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from parley_schemas import Topic

from .consumer_lag import AiokafkaLag, ConsumerLag
from .kafka import KafkaPublisher, topic_names
from .kafka_security import KafkaSecurity, kafka_client_options
from .metrics import on_scrape
from .streams import Handler, consume_envelopes


@dataclass(frozen=True)
class _Event:
    """The shape of a Faust event that consume_envelopes reads."""

    message: Any  # aiokafka ConsumerRecord: topic, partition, offset, key, value, headers

    @property
    def key(self) -> Any:
        return self.message.key

    @property
    def value(self) -> Any:
        return self.message.value


async def _committing(consumer: AIOKafkaConsumer) -> AsyncIterator[_Event]:
    async for record in consumer:
        yield _Event(record)
        # Resumed only when the consumer asks for the next record: this one is done.
        tp = TopicPartition(record.topic, record.partition)
        await consumer.commit({tp: record.offset + 1})


async def run_consumer(
    bootstrap_servers: str,
    group_id: str,
    topic: Topic,
    handle: Handler,
    dead_letters: KafkaPublisher,
    *,
    stage: str,
    topic_prefix: str = "",
    security: KafkaSecurity | None = None,
) -> None:
    """Runs until cancelled; ``security`` as for :class:`KafkaPublisher`."""
    consumer = AIOKafkaConsumer(
        topic_prefix + topic.name,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka_client_options(security),
    )
    await consumer.start()
    lag = ConsumerLag(group_id, AiokafkaLag(consumer))  # parley_kafka_consumer_lag
    unregister = on_scrape(lag.refresh)
    try:
        events: AsyncIterator[Any] = _committing(consumer)
        await consume_envelopes(
            events, topic_names(topic_prefix, topic), handle, dead_letters, stage=stage
        )
    finally:
        unregister()
        lag.forget()
        await consumer.stop()
