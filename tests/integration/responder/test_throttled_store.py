"""One throttled store delays no other store, on the real store and broker.

Store A's marketplace answers 429 with a Retry-After of an hour; store B, on another
marketplace, is answered at once. Both replies are accepted through the responder's
durable queue (FerretDB) and delivered per connection; results go through the real
Kafka broker. The order of events is asserted, not durations: B's reply reaches its
marketplace while A's is parked, A's wait is the documented maximum (the hour is
capped) and shown as ``next_attempt_at`` on the record and in the delivery result,
and A's reply goes out only once that wait is over. The marketplaces are the
sandbox, in process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe
from support.waiting import eventually

from parley_connectors.mirakl.writing import MiraklReplies
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mongo_deliveries import (
    DELIVERY_QUEUE,
    MongoDeliveryQueue,
    MongoDeliveryStore,
)
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.handlers import Responder, RetryPolicy
from parley_responder.scheduler import DeliveryScheduler
from parley_sandbox import create_app
from parley_schemas import (
    DELIVERY_RESULTS,
    DeliveryResult,
    DeliveryState,
    DiscussionKey,
    ParticipantRole,
    ReplyCommand,
)
from parley_store import DELIVERIES

pytestmark = pytest.mark.integration

MAX_RETRY_AFTER = 120.0  # the responder's documented maximum, set low for the test
ASKED = 3600  # what store A's marketplace asks for


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(seed=False)), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-throttled-store", topic_prefix)
    await p.start()
    yield p
    await p.stop()


async def connected(
    db: AsyncDatabase[Any], cipher: CredentialCipher, sandbox: httpx.AsyncClient, instance: str
) -> ReplyCommand:
    """A store connected to ``instance``, a buyer's thread there, and a reply to it."""
    store = f"store-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await MongoConnectionRepository(db, cipher).add(
        Connection(
            id=f"c-{store}",
            store_id=store,
            family="mirakl",
            marketplace=instance,
            base_url=f"http://sandbox/mirakl/{instance}",
            credentials={"api_key": "sandbox-shop-key"},
            activated_at=now - timedelta(days=1),
            cursor=now - timedelta(days=1),
        )
    )
    thread_id = (
        await sandbox.post(
            f"/_sandbox/mirakl/{instance}/messages",
            json={"body": "Où en est ma commande ?", "sender": "CUSTOMER", "customer_name": "Léa"},
        )
    ).json()["thread_id"]
    key = DiscussionKey(store_id=store, marketplace=instance, thread_id=thread_id)
    return ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id=key.discussion_id,
        store_id=store,
        marketplace=instance,
        thread_id=thread_id,
        body=f"Elle part demain ({store}).",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=now,
    )


async def replies_at(sandbox: httpx.AsyncClient, instance: str) -> list[str]:
    got = (await sandbox.get(f"/_sandbox/mirakl/{instance}/replies")).json()["replies"]
    return [str(r["body"]) for r in got]


async def test_a_throttled_store_is_parked_while_another_stores_reply_is_delivered(
    sandbox: httpx.AsyncClient,
    mongo_db: AsyncDatabase[Any],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    throttled, other = f"thr{uuid.uuid4().hex[:6]}", f"oth{uuid.uuid4().hex[:6]}"
    reply_a = await connected(mongo_db, cipher, sandbox, throttled)
    reply_b = await connected(mongo_db, cipher, sandbox, other)
    armed = await sandbox.post(
        f"/_sandbox/mirakl/{throttled}/faults", json={"kind": "rate_limit", "retry_after": ASKED}
    )
    assert armed.status_code == 201, armed.text

    waits: list[float] = []
    retry_after_over = asyncio.Event()

    async def wait(seconds: float) -> None:
        """Time passing for A's backoff: the test says when its Retry-After is over."""
        waits.append(seconds)
        await retry_after_over.wait()

    responder = Responder(
        MongoDeliveryStore(mongo_db),
        MongoDestinationLookup(mongo_db, cipher),
        {"mirakl": MiraklReplies(sandbox, timeout=5)},
        KafkaResultSink(publisher),
        RetryPolicy(
            max_attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=MAX_RETRY_AFTER
        ),
        sleep=wait,
    )
    scheduler = DeliveryScheduler(responder, MongoDeliveryQueue(mongo_db))
    try:
        async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, topic_prefix) as probe:
            before = datetime.now(UTC)
            async with asyncio.timeout(30):  # accepting never waits for a delivery
                await scheduler.submit(reply_a)  # A first: B must not wait behind it
                await scheduler.submit(reply_b)
            # Both durably accepted before delivery: what a restart would resume.
            for command in (reply_a, reply_b):
                assert await mongo_db[DELIVERIES].find_one({"_id": command.command_id})

            async def b_delivered() -> bool:
                return reply_b.body in await replies_at(sandbox, other)

            await eventually(b_delivered, timeout=30, interval=0.05)

            def a_parked(record: Any) -> bool:
                data = record.envelope().data
                return data.command_id == reply_a.command_id and data.next_attempt_at is not None

            (parked_record, *_) = await probe.wait_for(a_parked, timeout=30)
            parked: DeliveryResult = parked_record.envelope().data
            after = datetime.now(UTC)

            # B went out while A was parked, and A had not gone out.
            assert not retry_after_over.is_set()
            assert await replies_at(sandbox, throttled) == []
            assert waits == [MAX_RETRY_AFTER], "the hour asked for is capped at the maximum"
            cap = timedelta(seconds=MAX_RETRY_AFTER)
            assert parked.state is DeliveryState.QUEUED and parked.attempts == 1
            assert before + cap <= parked.next_attempt_at <= after + cap
            record = await mongo_db[DELIVERIES].find_one({"_id": reply_a.command_id})
            assert record is not None and record["state"] == "queued"
            assert record["attempts"] == 1 and record["next_attempt_at"] is not None
            assert await mongo_db[DELIVERY_QUEUE].find_one({"_id": reply_a.command_id})

            def final(record: Any) -> bool:
                data = record.envelope().data
                return data.state is not DeliveryState.QUEUED

            b_results = await probe.wait_for(
                lambda r: final(r) and r.envelope().data.command_id == reply_b.command_id,
                timeout=30,
            )
            assert b_results[-1].envelope().data.state is DeliveryState.SENT

            retry_after_over.set()  # A's (capped) Retry-After is over
            a_results = await probe.wait_for(
                lambda r: final(r) and r.envelope().data.command_id == reply_a.command_id,
                timeout=30,
            )
        sent_a: DeliveryResult = a_results[-1].envelope().data
        assert (sent_a.state, sent_a.attempts, sent_a.next_attempt_at) == (
            DeliveryState.SENT,
            2,
            None,
        )
        assert await replies_at(sandbox, throttled) == [reply_a.body]
        assert await replies_at(sandbox, other) == [reply_b.body]
        await scheduler.wait_idle()
        for command in (reply_a, reply_b):  # settled: nothing left to resume
            assert await mongo_db[DELIVERY_QUEUE].find_one({"_id": command.command_id}) is None
    finally:
        await scheduler.close()


async def test_the_queue_lease_lets_one_instance_deliver_and_a_survivor_take_over(
    mongo_db: AsyncDatabase[Any],
) -> None:
    queue = MongoDeliveryQueue(mongo_db)
    command = ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id="d-lease",
        store_id="store-lease",
        marketplace="carrefour",
        thread_id="t-lease",
        body="Bonjour",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )
    await queue.add(command)
    now = datetime.now(UTC)
    lease = timedelta(seconds=20)
    assert await queue.claim(command.command_id, "one", now, now + lease)
    assert await queue.claim(command.command_id, "one", now, now + lease), "renewed"
    assert not await queue.claim(command.command_id, "two", now, now + lease)
    later = now + lease + timedelta(seconds=1)  # one stopped renewing
    assert await queue.claim(command.command_id, "two", later, later + lease)
    assert not await queue.claim(command.command_id, "one", later, later + lease)
    assert [c.command_id for c in await queue.pending()] == [command.command_id]
    await queue.remove(command)
    assert not await queue.claim(command.command_id, "two", later, later + lease), "settled"
