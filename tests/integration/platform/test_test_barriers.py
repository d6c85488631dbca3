"""The tests' "processed everything" barrier, on the real broker.

The end-to-end tests prove that a reply went out once by waiting until the services
committed past every record that could have caused a second one. Under a steady flow
(every activated connection polls every 2 s) a barrier that compares with ends read
afresh is met only by luck; one fixed when it begins is met once those are processed.
"""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from support.kafka import caught_up, committed_up_to, end_offsets

from parley_schemas import MARKETPLACE_RAW


async def _produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(topic, f"record {n}".encode(), partition=0)
    finally:
        await producer.stop()


async def _consume_and_commit(bootstrap: str, topic: str, group: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        taken = 0
        while taken < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=count - taken)
            taken += sum(len(records) for records in batch.values())
        await consumer.commit()
    finally:
        await consumer.stop()


async def test_a_fixed_end_is_met_once_processed_while_records_keep_coming(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic, group = topic_prefix + MARKETPLACE_RAW.name, f"barrier-{uuid.uuid4().hex[:8]}"
    await _produce(kafka_bootstrap, topic, 3)
    ends = await end_offsets(kafka_bootstrap, [topic])
    assert ends[TopicPartition(topic, 0)] == 3 and sum(ends.values()) == 3
    assert not await committed_up_to(kafka_bootstrap, group, ends)  # nothing committed yet

    await _consume_and_commit(kafka_bootstrap, topic, group, 3)
    await _produce(kafka_bootstrap, topic, 1)  # a poll publishes again meanwhile

    assert await committed_up_to(kafka_bootstrap, group, ends)
    assert not await caught_up(kafka_bootstrap, group, [topic])  # the moving end: not met
