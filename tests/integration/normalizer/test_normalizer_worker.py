"""The normalizer as a real Faust worker process on the real broker and database.

Proves the stream side: records are consumed from Kafka in batches, bad ones go to the
dead-letter topic while the rest of their batch is stored, and a worker killed without
warning (mid-batch: it is acknowledged only once stored) loses and duplicates nothing
when it comes back; order alerts are consumed too, and the retention timer deletes
what has expired.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from devstack import Ports, ServiceGroup
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, caught_up
from support.waiting import eventually

from parley_platform.kafka import KafkaPublisher
from parley_schemas import (
    DEAD_LETTERS,
    DELIVERY_RESULT,
    DELIVERY_RESULTS,
    MARKETPLACE_RAW,
    ORDER_ALERT,
    ORDER_ALERTS,
    THREAD_SNAPSHOT,
    DeliveryResult,
    DeliveryState,
    Envelope,
    OrderAlert,
    OrderAlertKind,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DISCUSSIONS, MESSAGES, inbound_message_id

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": mongo_db.name,
            "NORMALIZER_APP_ID": f"normalizer-test-{uuid.uuid4().hex[:8]}",
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "RETENTION_SWEEP_INTERVAL_SECONDS": "1",
        },
        ports=Ports.free(),
    )
    group.start("normalizer", "parley_normalizer")
    group.wait_healthy(["normalizer"])
    yield group
    group.stop_all()


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-worker", topic_prefix)
    await p.start()
    yield p
    await p.stop()


def snapshot(store: str, thread: str, count: int) -> Envelope[RawThreadSnapshot]:
    t0 = datetime(2026, 7, 1, tzinfo=UTC)
    snap = RawThreadSnapshot(
        connection_id="c",
        store_id=store,
        marketplace="decathlon",
        family="mirakl",
        thread_id=thread,
        messages=[
            RawMessage(
                marketplace_message_id=f"{thread}-m{i}",
                sender=Participant(role=ParticipantRole.CUSTOMER, name="Lucía"),
                body=f"Mensaje {i}",
                sent_at=t0 + timedelta(minutes=i),
            )
            for i in range(count)
        ],
        fetched_at=t0 + timedelta(hours=1),
    )
    return Envelope[RawThreadSnapshot](
        source="/test", type=THREAD_SNAPSHOT.name, subject=str(snap.key), data=snap
    )


async def test_records_become_discussions_and_garbage_is_dead_lettered(
    worker: ServiceGroup,
    publisher: KafkaPublisher,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS, topic_prefix) as dead:
        await publisher._producer.send_and_wait(
            topic_prefix + MARKETPLACE_RAW.name,
            f"not json {marker}".encode(),
            key=f"{store}:decathlon:x".encode(),
        )
        await publisher.publish(MARKETPLACE_RAW, snapshot(store, "t1", 2))
        (letter,) = await dead.wait_for(lambda r: marker.encode() in (r.value or b""), timeout=60)
    assert "not a CloudEvents envelope" in letter.envelope().data.reason

    async def built() -> bool:
        discussions = await mongo_db[DISCUSSIONS].count_documents({"store_id": store})
        return discussions == 1 and await _message_count(mongo_db, store) == 2

    await eventually(built, timeout=60)


async def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    worker: ServiceGroup, publisher: KafkaPublisher, mongo_db: AsyncDatabase[Any]
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    threads = [f"t{i}" for i in range(30)]
    for thread in threads[:15]:
        await publisher.publish(MARKETPLACE_RAW, snapshot(store, thread, 3))
    worker.stop("normalizer", sig=signal.SIGKILL)
    for thread in threads[15:]:
        await publisher.publish(MARKETPLACE_RAW, snapshot(store, thread, 3))
    for thread in threads[:10]:  # redelivered snapshots, as after an ingest retry
        await publisher.publish(MARKETPLACE_RAW, snapshot(store, thread, 3))
    worker.start("normalizer", "parley_normalizer")
    worker.wait_healthy(["normalizer"])

    async def complete() -> bool:
        discussions = await mongo_db[DISCUSSIONS].count_documents({"store_id": store})
        return discussions == 30 and await _message_count(mongo_db, store) >= 90

    await eventually(complete, timeout=90)

    # The barrier before counting: the normalizer committed every record published,
    # redeliveries included, so any duplicate would be stored by now.
    async def all_processed() -> bool:
        return await caught_up(
            worker.env["KAFKA_BOOTSTRAP_SERVERS"],
            worker.env["NORMALIZER_APP_ID"],
            [worker.env["KAFKA_TOPIC_PREFIX"] + MARKETPLACE_RAW.name],
        )

    await eventually(all_processed, timeout=60)
    assert await _message_count(mongo_db, store) == 90
    assert await mongo_db[DISCUSSIONS].count_documents({"store_id": store}) == 30


async def test_alerts_open_drafts_and_the_timer_deletes_expired_discussions(
    worker: ServiceGroup, publisher: KafkaPublisher, mongo_db: AsyncDatabase[Any]
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    # An Allegro discussion solved long ago, as the sweeper left it: due for deletion.
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    expired_id = f"expired-{uuid.uuid4().hex[:8]}"
    await mongo_db[DISCUSSIONS].insert_one(
        {
            "_id": expired_id,
            "key": f"{store}:allegro-pl:old",
            "store_id": store,
            "marketplace": "allegro-pl",
            "family": "allegro",
            "channel": "message_center",
            "thread_id": "old",
            "created_at": long_ago,
            "last_message_at": long_ago,
            "status": "solved",
            "retention_status": "solved",
            "retention_status_since": long_ago,
            "expires_at": long_ago + timedelta(days=14),
        }
    )
    await mongo_db[MESSAGES].insert_one(
        {
            "_id": inbound_message_id(expired_id, "m1"),
            "discussion_id": expired_id,
            "direction": "inbound",
            "sender": {"role": "customer"},
            "body": "stara wiadomość",
            "sent_at": long_ago,
        }
    )
    alert = OrderAlert(
        store_id=store,
        marketplace="allegro-pl",
        family="allegro",
        kind=OrderAlertKind.ADDRESS_INVALID,
        order_id="o-1",
        buyer=Participant(role=ParticipantRole.CUSTOMER, name="Ewa", marketplace_id="b-1"),
        occurred_at=datetime.now(UTC),
    )
    await publisher.publish(
        ORDER_ALERTS,
        Envelope[OrderAlert](
            source="/test", type=ORDER_ALERT.name, subject=str(alert.key), data=alert
        ),
    )

    async def done() -> bool:
        draft = await mongo_db[DISCUSSIONS].find_one({"_id": alert.key.discussion_id})
        gone = await mongo_db[DISCUSSIONS].count_documents({"_id": expired_id}) == 0
        return draft is not None and gone

    await eventually(done, timeout=60)
    draft = await mongo_db[DISCUSSIONS].find_one({"_id": alert.key.discussion_id})
    assert draft is not None and draft["tags"] == ["alert:address-invalid"]
    assert await mongo_db[MESSAGES].count_documents({"discussion_id": expired_id}) == 0


async def _message_count(db: AsyncDatabase[Any], store: str) -> int:
    ids = await db[DISCUSSIONS].distinct("_id", {"store_id": store})
    return await db[MESSAGES].count_documents({"discussion_id": {"$in": ids}})


async def test_one_bad_record_in_a_batch_is_dead_lettered_and_the_rest_is_stored(
    worker: ServiceGroup,
    publisher: KafkaPublisher,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    store = f"store-{uuid.uuid4().hex[:8]}"
    orphan = DeliveryResult(
        command_id=f"cmd-{uuid.uuid4().hex[:8]}",
        discussion_id=f"missing-{uuid.uuid4().hex[:8]}",
        store_id=store,
        marketplace="decathlon",
        thread_id="nowhere",
        state=DeliveryState.SENT,
        body="?",
        recipients=[ParticipantRole.CUSTOMER],
        attempts=1,
        occurred_at=datetime(2026, 7, 1, tzinfo=UTC),
    )
    async with TopicProbe(kafka_bootstrap, DEAD_LETTERS, topic_prefix) as dead:
        # Published back to back: the worker takes them in one or a few batches.
        for i in range(20):
            await publisher.publish(MARKETPLACE_RAW, snapshot(store, f"t{i}", 2))
        await publisher.publish(
            DELIVERY_RESULTS,
            Envelope[DeliveryResult](
                source="/test", type=DELIVERY_RESULT.name, subject="x", data=orphan
            ),
        )
        for i in range(20, 40):
            await publisher.publish(MARKETPLACE_RAW, snapshot(store, f"t{i}", 2))
        (letter,) = await dead.wait_for(
            lambda r: orphan.command_id.encode() in (r.value or b""), timeout=60
        )
    assert "unprocessable" in letter.envelope().data.reason

    async def stored() -> bool:
        discussions = await mongo_db[DISCUSSIONS].count_documents({"store_id": store})
        return discussions == 40 and await _message_count(mongo_db, store) == 80

    await eventually(stored, timeout=60)
    async for doc in mongo_db[DISCUSSIONS].find({"store_id": store}):
        assert doc["message_count"] == len(doc["message_ids"]) == 2
        assert doc["last_message_preview"] == "Mensaje 1"
