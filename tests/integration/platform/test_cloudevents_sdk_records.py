"""A record the official CloudEvents SDK produces, with extensions, through real Kafka.

The SDK's Kafka binding (``cloudevents`` 2.2) writes a reply command in structured
mode with its ``partitionkey`` extension and a custom ``tenant``; Parley's consumer
path (:func:`parley_platform.streams.consume_envelopes`, what the stream processors
run) hands it to the handler with its extensions, and nothing is dead-lettered. A
binary-mode record next to it is dead-lettered with a reason that names the mode.

The records go to a private ``test.``-prefixed topic made for this test (no service
consumes it), read as the conversation commands contract.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from support.kafka import session_topic_prefix

from parley_platform.streams import consume_envelopes
from parley_schemas import CONVERSATION_COMMANDS, REPLY_REQUESTED, Envelope, ReplyCommand

pytestmark = pytest.mark.integration


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]


@dataclass
class _Event:
    """What Faust hands an agent, as far as the consumer path reads it."""

    key: bytes | None
    value: bytes | None
    message: _Message


class _DeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, dict[str, Any]]] = []

    async def dead_letter(self, stage: str, reason: str, **where: Any) -> None:
        self.letters.append((reason, where))


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"{session_topic_prefix()}cloudevents-sdk-{uuid.uuid4().hex[:10]}"
    assert name.startswith("test.")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
    finally:
        await admin.delete_topics([name])
        await admin.close()


def _sdk_event(subject: str) -> CloudEvent:
    command = ReplyCommand(
        command_id="cmd-12345678",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id=subject.rsplit(":", 1)[-1],
        body="Bonjour",
        recipients=["customer"],
        requested_by="sdk",
        requested_at=datetime.now(UTC),
    )
    return CloudEvent(
        {
            "type": REPLY_REQUESTED.name,
            "source": "/sdk-producer",
            "subject": subject,
            "partitionkey": subject,
            "tenant": "acme",
        },
        command.model_dump(mode="json"),
    )


async def test_an_sdk_record_with_extensions_is_consumed_without_a_dead_letter(
    kafka_bootstrap: str, topic: str
) -> None:
    subject = f"s1:carrefour:{uuid.uuid4().hex}"
    structured = ce_kafka.to_structured_event(_sdk_event(subject))
    binary = ce_kafka.to_binary_event(_sdk_event(subject))

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for message in (structured, binary):
            key = message.key.encode() if isinstance(message.key, str) else message.key
            await producer.send_and_wait(
                topic, value=message.value, key=key, headers=list(message.headers.items())
            )
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None)
    await consumer.start()
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, 0)

    async def events() -> AsyncIterator[_Event]:
        for _ in range(2):
            record = await consumer.getone()
            yield _Event(
                record.key,
                record.value,
                _Message(record.topic, record.partition, record.offset, list(record.headers)),
            )

    handled: list[Envelope[Any]] = []

    async def handle(envelope: Envelope[Any]) -> None:
        handled.append(envelope)

    dead = _DeadLetters()
    try:
        await consume_envelopes(
            events(), {topic: CONVERSATION_COMMANDS}, handle, dead, stage="sdk-test"
        )
    finally:
        await consumer.stop()

    assert len(handled) == 1
    envelope = handled[0]
    assert envelope.subject == subject
    assert envelope.source == "/sdk-producer"
    assert envelope.extensions == {"partitionkey": subject, "tenant": "acme"}
    assert isinstance(envelope.data, ReplyCommand)
    # The structured record is not dead-lettered; the binary one is, saying why.
    assert [where["offset"] for _, where in dead.letters] == [1]
    assert "binary content mode" in dead.letters[0][0]
