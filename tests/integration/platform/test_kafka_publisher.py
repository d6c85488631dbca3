"""The one Kafka write path: keys, CloudEvents headers, trace context, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from support.kafka import TopicProbe, session_topic_prefix

from parley_platform.kafka import KafkaPublisher
from parley_platform.tracing import configure_tracing, extract_context
from parley_schemas import (
    DEAD_LETTER,
    DEAD_LETTERS,
    MARKETPLACE_RAW,
    REPLY_REQUESTED,
    THREAD_SNAPSHOT,
    Envelope,
    RawThreadSnapshot,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-publisher", session_topic_prefix())
    await p.start()
    yield p
    await p.stop()


def snapshot_envelope(thread: str) -> Envelope[RawThreadSnapshot]:
    snap = RawThreadSnapshot(
        connection_id="c",
        store_id="s1",
        marketplace="carrefour",
        family="mirakl",
        thread_id=thread,
        fetched_at=datetime.now(UTC),
    )
    return Envelope[RawThreadSnapshot](
        source="/test", type=THREAD_SNAPSHOT.name, subject=str(snap.key), data=snap
    )


async def test_records_are_keyed_by_discussion_and_carry_the_trace(
    publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    configure_tracing("test")
    thread = uuid.uuid4().hex
    envelope = snapshot_envelope(thread)
    tracer = trace.get_tracer("test")
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        with tracer.start_as_current_span("poll") as span:
            await publisher.publish(MARKETPLACE_RAW, envelope)
            trace_id = span.get_span_context().trace_id
        (record,) = await probe.wait_for(lambda r: r.key == f"s1:carrefour:{thread}".encode())

    assert record.headers["content-type"] == b"application/cloudevents+json"
    restored = trace.get_current_span(extract_context(record.headers.items())).get_span_context()
    assert restored.trace_id == trace_id
    assert record.envelope().data == envelope.data


async def test_one_discussion_always_lands_on_one_partition(
    publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    thread = uuid.uuid4().hex
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        for _ in range(5):
            await publisher.publish(MARKETPLACE_RAW, snapshot_envelope(thread))
        records = await probe.wait_for(
            lambda r: r.key == f"s1:carrefour:{thread}".encode(), count=5
        )
    assert len({r.partition for r in records}) == 1
    assert [r.offset for r in records] == sorted(r.offset for r in records)


async def test_a_record_type_foreign_to_the_topic_is_refused(publisher: KafkaPublisher) -> None:
    wrong = Envelope[RawThreadSnapshot](
        source="/test", type=REPLY_REQUESTED.name, subject="s:m:t", data=snapshot_envelope("x").data
    )
    with pytest.raises(ValueError, match="does not belong"):
        await publisher.publish(MARKETPLACE_RAW, wrong)


async def test_dead_letters_keep_the_reason_and_the_original_bytes(
    publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    marker = uuid.uuid4().hex
    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS) as probe:
        await publisher.dead_letter(
            "test", f"bad payload {marker}", source_topic="x", value=b"\x00garbage"
        )
        (record,) = await probe.wait_for(lambda r: marker.encode() in (r.value or b""))
    envelope = record.envelope()
    assert envelope.type == DEAD_LETTER.name
    assert envelope.data.reason == f"bad payload {marker}"
    assert envelope.data.original_value == "\x00garbage"


async def test_several_envelopes_land_in_the_order_given(
    publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    """One call, one acknowledgement for all: the discussion's records still keep the
    order they were given in (consumers apply them in that order)."""
    thread = uuid.uuid4().hex
    envelopes = [snapshot_envelope(thread) for _ in range(20)]
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        await publisher.publish(MARKETPLACE_RAW, *envelopes)
        records = await probe.wait_for(
            lambda r: r.key == f"s1:carrefour:{thread}".encode(), count=20
        )
    assert [r.envelope().id for r in sorted(records, key=lambda r: r.offset)] == [
        e.id for e in envelopes
    ]


async def test_a_foreign_envelope_among_several_sends_none_of_them(
    publisher: KafkaPublisher, kafka_bootstrap: str
) -> None:
    thread = uuid.uuid4().hex
    good = snapshot_envelope(thread)
    foreign = good.model_copy(update={"type": REPLY_REQUESTED.name})
    async with TopicProbe(kafka_bootstrap, MARKETPLACE_RAW) as probe:
        with pytest.raises(ValueError, match="does not belong"):
            await publisher.publish(MARKETPLACE_RAW, good, foreign)
        seen = await probe.drain(2.0)
    assert [r for r in seen if r.key == f"s1:carrefour:{thread}".encode()] == []


async def test_warm_up_starts_the_producer_and_learns_the_topics_partitions(
    kafka_bootstrap: str,
) -> None:
    """So the first record after a start does not wait for the topic's metadata."""
    publisher = KafkaPublisher(kafka_bootstrap, "test-warm-up", session_topic_prefix())
    try:
        await publisher.warm_up(MARKETPLACE_RAW)
        assert publisher.started
        known = publisher._producer.client.cluster.partitions_for_topic(
            session_topic_prefix() + MARKETPLACE_RAW.name
        )
        assert known, "the topic's partitions are known before anything is sent"
    finally:
        await publisher.stop()
