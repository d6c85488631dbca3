"""Customers (F8) on the real MongoDB-compatible server: created once, linked for good."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, envelopes_of

from parley_normalizer.handlers import Normalizer
from parley_schemas import (
    CONVERSATION_EVENTS,
    DISCUSSION_CREATED,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import CUSTOMERS, DISCUSSIONS, customer_id_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
ANNA = Participant(
    role=ParticipantRole.CUSTOMER, name="Anna Nowak", email="anna@example.pl", marketplace_id="C-17"
)
BOGDAN = Participant(role=ParticipantRole.CUSTOMER, name="Bogdan", marketplace_id="C-99")
ANONYMOUS = Participant(role=ParticipantRole.CUSTOMER, name="Anna Nowak")


def snapshot(store: str, thread: str, *buyers: Participant) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c1",
        store_id=store,
        marketplace="empik",
        family="mirakl",
        thread_id=thread,
        participants=list(buyers[1:]),
        messages=[
            RawMessage(
                marketplace_message_id=f"{thread}-m1",
                sender=buyers[0],
                body="Dzień dobry",
                sent_at=T0,
            )
        ],
        fetched_at=T0 + timedelta(hours=1),
    )


def new_store() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


async def test_an_unknown_buyer_becomes_a_customer_once_and_links_every_discussion(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = new_store()
    first = snapshot(store, "t1", ANNA)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_snapshot(first)
        records = await probe.wait_for(lambda r: r.key == str(first.key).encode(), count=2)
    await normalizer.on_snapshot(snapshot(store, "t2", ANNA))
    await normalizer.on_snapshot(first)  # a replay changes nothing either

    customers = await mongo_db[CUSTOMERS].find({"store_id": store}).to_list()
    assert len(customers) == 1
    customer = customers[0]
    assert customer["_id"] == customer_id_for(store, "empik", "C-17")
    assert (customer["marketplace"], customer["marketplace_customer_id"]) == ("empik", "C-17")
    assert (customer["name"], customer["email"]) == ("Anna Nowak", "anna@example.pl")
    linked = await mongo_db[DISCUSSIONS].distinct("customer_id", {"store_id": store})
    assert linked == [customer["_id"]]
    (created,) = envelopes_of(records, DISCUSSION_CREATED.name)
    assert created.data.customer_id == customer["_id"]


async def test_a_discussion_keeps_its_customer_when_another_buyer_shows_up(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    await normalizer.on_snapshot(snapshot(store, "t1", ANNA))
    did = snapshot(store, "t1", ANNA).key.discussion_id

    await normalizer.on_snapshot(snapshot(store, "t1", BOGDAN, ANNA))

    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None and doc["customer_id"] == customer_id_for(store, "empik", "C-17")
    assert await mongo_db[CUSTOMERS].count_documents({"store_id": store}) == 1, (
        "no customer is created for a discussion that already has one"
    )


async def test_a_discussion_first_seen_without_a_customer_id_is_linked_later(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    await normalizer.on_snapshot(snapshot(store, "t1", ANONYMOUS))
    did = snapshot(store, "t1", ANONYMOUS).key.discussion_id
    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None and doc.get("customer_id") is None
    assert await mongo_db[CUSTOMERS].count_documents({"store_id": store}) == 0

    await normalizer.on_snapshot(snapshot(store, "t1", ANONYMOUS, ANNA))
    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None and doc["customer_id"] == customer_id_for(store, "empik", "C-17")


async def test_threads_of_one_new_buyer_processed_at_once_create_one_customer(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    """As when two workers meet the buyer on two partitions at the same moment."""
    store = new_store()
    await asyncio.gather(
        *(normalizer.on_snapshot(snapshot(store, f"t{i}", ANNA)) for i in range(6))
    )
    assert await mongo_db[CUSTOMERS].count_documents({"store_id": store}) == 1
    linked = await mongo_db[DISCUSSIONS].distinct("customer_id", {"store_id": store})
    assert linked == [customer_id_for(store, "empik", "C-17")]
