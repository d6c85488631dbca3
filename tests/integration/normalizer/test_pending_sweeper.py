"""Events a crash left pending are published by the sweeper, with no new record.

The crash is simulated in-process on the real database: the normalizer writes a
snapshot, then its publish fails (the broker went away), so the discussion's events
stay pending and its pending mark stays. Nothing is sent for that discussion again.
A real normalizer worker process, whose timer sweeps every second, must publish the
events to the real broker (the mark names them) and clear the mark.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from devstack import Ports, ServiceGroup
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe
from support.waiting import eventually

from parley_normalizer.adapters.mongo_store import PENDING_EVENTS, MongoDiscussionStore
from parley_normalizer.handlers import Normalizer
from parley_schemas import (
    CONVERSATION_EVENTS,
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    Envelope,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DISCUSSIONS, ensure_indexes

pytestmark = pytest.mark.integration


class BrokerGone:
    """An event sink whose broker went away after the writes were made."""

    async def emit(self, *envelopes: Envelope[Any]) -> None:
        raise ConnectionError("broker unreachable")


@pytest.fixture
def sweeping_worker(
    kafka_bootstrap: str, mongo_uri: str, mongo_db: AsyncDatabase[Any], topic_prefix: str
) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": mongo_db.name,
            "NORMALIZER_APP_ID": f"normalizer-sweep-{uuid.uuid4().hex[:8]}",
            "KAFKA_TOPIC_PREFIX": topic_prefix,
            "PENDING_SWEEP_INTERVAL_SECONDS": "1",
            "PENDING_SWEEP_AFTER_SECONDS": "1",
        },
        ports=Ports.free(),
    )
    yield group
    group.stop_all()


def snapshot(store: str, thread: str) -> RawThreadSnapshot:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    return RawThreadSnapshot(
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
            for i in range(2)
        ],
        fetched_at=t0 + timedelta(minutes=5),
    )


async def test_events_left_pending_by_a_crash_are_published_by_the_sweeper(
    sweeping_worker: ServiceGroup,
    mongo_db: AsyncDatabase[Any],
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    await ensure_indexes(mongo_db)
    snap = snapshot(f"store-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}")
    discussion_id = snap.key.discussion_id
    crashed = Normalizer(MongoDiscussionStore(mongo_db), BrokerGone())
    with pytest.raises(ConnectionError):
        await crashed.on_snapshot(snap)
    stored = await mongo_db[DISCUSSIONS].find_one({"_id": discussion_id})
    assert stored is not None and stored["message_count"] == 2, "stored before the publish"
    mark = await mongo_db[PENDING_EVENTS].find_one({"_id": discussion_id})
    assert mark is not None
    assert len(mark["events"]) == 3, "the crash left the created and both messages' events"

    def ours(record: Any) -> bool:
        return bool(record.envelope().subject == discussion_id) or discussion_id in str(
            record.envelope().data
        )

    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS, topic_prefix) as probe:
        sweeping_worker.start("normalizer", "parley_normalizer")
        sweeping_worker.wait_healthy(["normalizer"])
        records = await probe.wait_for(ours, count=3, timeout=90)

    types = [r.envelope().type for r in records]
    assert types.count(DISCUSSION_CREATED.name) == 1
    assert types.count(MESSAGE_RECEIVED.name) == 2

    async def settled() -> bool:
        return await mongo_db[PENDING_EVENTS].find_one({"_id": discussion_id}) is None

    await eventually(settled)
