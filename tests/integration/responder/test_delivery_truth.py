"""Delivery truth on the real store: identical replies in one thread, under every fault.

The merchant answers "Merci !" twice in one Mirakl thread; the second reply meets a
fault at the marketplace (sandbox, in process): a 500 that kept nothing, an answer
lost after the marketplace kept the message, a 429, and a crash of the responder
while the marketplace holds the answer back. Whatever the fault, exactly two replies
reach the marketplace and each delivery names its own message: a reply is never
taken for sent because an earlier one had the same text. Delivery records live in
the real MongoDB-compatible server; results go through the real Kafka broker.
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

from parley_connectors.mirakl.writing import MiraklReplies
from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.domain.connections import Connection
from parley_platform.crypto import CredentialCipher
from parley_platform.kafka import KafkaPublisher
from parley_responder.adapters.kafka_results import KafkaResultSink
from parley_responder.adapters.mongo_deliveries import MongoDeliveryStore
from parley_responder.adapters.mongo_destinations import MongoDestinationLookup
from parley_responder.handlers import Responder, RetryPolicy
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

INSTANCE = "carrefour"
SAME = "Merci pour votre commande !"
TIMEOUT = 1.0  # the responder's marketplace timeout; a lost answer is held longer


@pytest.fixture
async def sandbox() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(seed=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        yield client


@pytest.fixture
async def publisher(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[KafkaPublisher]:
    p = KafkaPublisher(kafka_bootstrap, "test-delivery-truth", topic_prefix)
    await p.start()
    yield p
    await p.stop()


async def connected_store(db: AsyncDatabase[Any], cipher: CredentialCipher) -> str:
    store = f"store-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    await MongoConnectionRepository(db, cipher).add(
        Connection(
            id=f"c-{store}",
            store_id=store,
            family="mirakl",
            marketplace=INSTANCE,
            base_url=f"http://sandbox/mirakl/{INSTANCE}",
            credentials={"api_key": "sandbox-shop-key"},
            activated_at=now - timedelta(days=1),
            cursor=now - timedelta(days=1),
        )
    )
    return store


def responder(
    db: AsyncDatabase[Any],
    cipher: CredentialCipher,
    sandbox: httpx.AsyncClient,
    publisher: KafkaPublisher,
) -> Responder:
    async def no_sleep(_: float) -> None:
        return None

    return Responder(
        MongoDeliveryStore(db),
        MongoDestinationLookup(db, cipher),
        {"mirakl": MiraklReplies(sandbox, timeout=TIMEOUT)},
        KafkaResultSink(publisher),
        RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05),
        sleep=no_sleep,
    )


def reply(store: str, thread_id: str) -> ReplyCommand:
    key = DiscussionKey(store_id=store, marketplace=INSTANCE, thread_id=thread_id)
    return ReplyCommand(
        command_id=uuid.uuid4().hex,
        discussion_id=key.discussion_id,
        store_id=store,
        marketplace=INSTANCE,
        thread_id=thread_id,
        body=SAME,
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime.now(UTC),
    )


async def shop_replies(sandbox: httpx.AsyncClient) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = (
        await sandbox.get(f"/_sandbox/mirakl/{INSTANCE}/replies")
    ).json()["replies"]
    return replies


async def final_result(probe: TopicProbe, command: ReplyCommand) -> DeliveryResult:
    def final(record: Any) -> bool:
        data = record.envelope().data
        return data.command_id == command.command_id and data.state is not DeliveryState.QUEUED

    records = await probe.wait_for(final, timeout=30)
    result: DeliveryResult = records[-1].envelope().data
    return result


FAULTS = {
    "500 that kept nothing": {"kind": "server_error", "status": 500},
    "answer lost after the marketplace kept it": {"kind": "lost_answer", "delay_seconds": 3},
    "429": {"kind": "rate_limit", "retry_after": 1},
}


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
async def test_identical_replies_in_one_thread_each_reach_the_marketplace_once(
    fault: dict[str, Any],
    sandbox: httpx.AsyncClient,
    mongo_db: AsyncDatabase[Any],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    store = await connected_store(mongo_db, cipher)
    service = responder(mongo_db, cipher, sandbox, publisher)
    thread_id = (
        await sandbox.post(
            f"/_sandbox/mirakl/{INSTANCE}/messages",
            json={"body": "Bien reçu ?", "sender": "CUSTOMER", "customer_name": "Inès"},
        )
    ).json()["thread_id"]
    first, second = reply(store, thread_id), reply(store, thread_id)

    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, topic_prefix) as probe:
        await service.on_reply(first)
        armed = await sandbox.post(
            f"/_sandbox/mirakl/{INSTANCE}/faults", json={**fault, "operations": ["M12"]}
        )
        assert armed.status_code == 201, armed.text
        await service.on_reply(second)
        results = [await final_result(probe, first), await final_result(probe, second)]

    at_marketplace = [r for r in await shop_replies(sandbox) if r["body"] == SAME]
    assert len(at_marketplace) == 2, "each reply reached the marketplace exactly once"
    assert [r.state for r in results] == [DeliveryState.SENT, DeliveryState.SENT]
    ids = {r.marketplace_message_id for r in results}
    assert ids == {r["message_id"] for r in at_marketplace}, "each names its own message"


async def test_a_crash_while_the_marketplace_holds_the_answer_finds_that_reply_only(
    sandbox: httpx.AsyncClient,
    mongo_db: AsyncDatabase[Any],
    publisher: KafkaPublisher,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    cipher = CredentialCipher(CredentialCipher.generate_key())
    store = await connected_store(mongo_db, cipher)
    thread_id = (
        await sandbox.post(
            f"/_sandbox/mirakl/{INSTANCE}/messages",
            json={"body": "Bien reçu ?", "sender": "CUSTOMER", "customer_name": "Inès"},
        )
    ).json()["thread_id"]
    first, second = reply(store, thread_id), reply(store, thread_id)
    patient = Responder(
        MongoDeliveryStore(mongo_db),
        MongoDestinationLookup(mongo_db, cipher),
        {"mirakl": MiraklReplies(sandbox, timeout=30)},
        KafkaResultSink(publisher),
    )
    await patient.on_reply(first)
    await sandbox.post(
        f"/_sandbox/mirakl/{INSTANCE}/faults",
        json={"kind": "lost_answer", "delay_seconds": 20, "operations": ["M12"]},
    )
    # The responder dies while the marketplace, having kept the reply, holds the answer.
    crashed = asyncio.create_task(patient.on_reply(second))

    async def kept() -> bool:
        return len(await shop_replies(sandbox)) == 2

    deadline = asyncio.get_running_loop().time() + 10
    while not await kept():
        assert asyncio.get_running_loop().time() < deadline, "the reply never reached it"
        await asyncio.sleep(0.05)
    crashed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashed
    record = await mongo_db[DELIVERIES].find_one({"_id": second.command_id})
    assert record is not None and record["state"] == "sending"

    async with TopicProbe(kafka_bootstrap, DELIVERY_RESULTS, topic_prefix) as probe:
        await responder(mongo_db, cipher, sandbox, publisher).on_reply(second)
        result = await final_result(probe, second)

    at_marketplace = [r for r in await shop_replies(sandbox) if r["body"] == SAME]
    assert len(at_marketplace) == 2, "not sent again after the crash"
    assert result.state is DeliveryState.SENT
    assert result.marketplace_message_id == at_marketplace[-1]["message_id"]
