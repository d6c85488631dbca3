"""The normalizer's handlers on the real MongoDB-compatible server and real Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, envelopes_of

from parley_gateway.api.models import DeliveryOut
from parley_normalizer.handlers import Normalizer, UnknownDiscussion
from parley_schemas import (
    CONVERSATION_EVENTS,
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    DeliveryResult,
    DeliveryState,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DISCUSSIONS, MESSAGES, MessageDocument

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Zofia Nowak")
SHOP = Participant(role=ParticipantRole.MERCHANT, name="Sklep")


def snapshot(store: str, *messages: RawMessage) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c1",
        store_id=store,
        marketplace="empik",
        family="mirakl",
        thread_id="thread-1",
        subject="Zamówienie 1001",
        entities=[RawEntity(type="order", id="1001")],
        messages=list(messages),
        fetched_at=T0 + timedelta(hours=1),
    )


def message(
    mid: str, minutes: int, sender: Participant = BUYER, body: str = "Dzień dobry"
) -> RawMessage:
    return RawMessage(
        marketplace_message_id=mid,
        sender=sender,
        body=body,
        sent_at=T0 + timedelta(minutes=minutes),
    )


def delivery(
    store: str, discussion_id: str, state: DeliveryState, mid: str | None = None
) -> DeliveryResult:
    return DeliveryResult(
        command_id="cmd-0001",
        discussion_id=discussion_id,
        store_id=store,
        marketplace="empik",
        thread_id="thread-1",
        state=state,
        body="Wysyłamy jutro.",
        recipients=[ParticipantRole.CUSTOMER],
        marketplace_message_id=mid,
        attempts=1,
        occurred_at=T0 + timedelta(minutes=30),
    )


def store_id() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


async def test_a_new_thread_becomes_a_discussion_with_messages_and_events(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = store_id()
    snap = snapshot(store, message("m1", 0), message("m2", 5, body="Halo?"))
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_snapshot(snap)
        records = await probe.wait_for(lambda r: r.key == str(snap.key).encode(), count=3)

    doc = await mongo_db[DISCUSSIONS].find_one({"key": str(snap.key)})
    assert doc is not None
    assert doc["status"] == "new" and doc["read"] is False
    assert doc["type"] == "order" and doc["order_id"] == "1001"
    assert doc["message_count"] == 2 and doc["last_message_preview"] == "Halo?"
    types = [e.type for e in (r.envelope() for r in records)]
    assert types == [DISCUSSION_CREATED.name, MESSAGE_RECEIVED.name, MESSAGE_RECEIVED.name]
    assert all(r.headers.get("content-type") == b"application/cloudevents+json" for r in records)


async def test_replaying_a_snapshot_changes_nothing_and_emits_nothing(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = store_id()
    snap = snapshot(store, message("m1", 0))
    await normalizer.on_snapshot(snap)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_snapshot(snap)
        await normalizer.on_snapshot(snap)
        seen = await probe.drain(2.0)
    assert [r for r in seen if r.key == str(snap.key).encode()] == []
    assert await mongo_db[MESSAGES].count_documents({}) == 1


async def test_sync_never_changes_status_and_a_new_inbound_message_makes_it_unread(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = store_id()
    await normalizer.on_snapshot(snapshot(store, message("m1", 0)))
    did = snapshot(store).key.discussion_id
    await mongo_db[DISCUSSIONS].update_one(
        {"_id": did}, {"$set": {"status": "pending", "read": True}}
    )

    await normalizer.on_snapshot(snapshot(store, message("m1", 0)))
    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None and doc["read"] is True, "no new message: stays read"

    await normalizer.on_snapshot(snapshot(store, message("m1", 0), message("m2", 10)))
    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None
    assert doc["read"] is False
    assert doc["status"] == "pending"


async def test_a_reply_is_recorded_through_its_delivery_states_and_not_duplicated_by_sync(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = store_id()
    snap = snapshot(store, message("m1", 0))
    await normalizer.on_snapshot(snap)
    did = snap.key.discussion_id
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_delivery(delivery(store, did, DeliveryState.QUEUED))
        await normalizer.on_delivery(delivery(store, did, DeliveryState.SENT, mid="mk-9"))
        records = await probe.wait_for(lambda r: r.key == str(snap.key).encode(), count=4)
    sent_events = envelopes_of(records, MESSAGE_SENT.name)
    assert [e.data.delivery_state for e in sent_events] == [
        DeliveryState.QUEUED,
        DeliveryState.SENT,
    ]

    # The next sync brings our reply back under its marketplace id: not a new message.
    await normalizer.on_snapshot(
        snapshot(store, message("m1", 0), message("mk-9", 31, sender=SHOP, body="Wysyłamy jutro."))
    )
    outbound = (
        await mongo_db[MESSAGES].find({"discussion_id": did, "direction": "outbound"}).to_list()
    )
    assert len(outbound) == 1
    assert outbound[0]["delivery"]["state"] == "sent"
    assert outbound[0]["command_id"] == "cmd-0001"


async def test_a_stale_delivery_state_does_not_overwrite_a_newer_one(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = store_id()
    snap = snapshot(store, message("m1", 0))
    await normalizer.on_snapshot(snap)
    did = snap.key.discussion_id
    await normalizer.on_delivery(delivery(store, did, DeliveryState.SENT, mid="mk-1"))
    await normalizer.on_delivery(delivery(store, did, DeliveryState.QUEUED))
    doc = await mongo_db[MESSAGES].find_one({"discussion_id": did, "direction": "outbound"})
    assert doc is not None and doc["delivery"]["state"] == "sent"


async def test_our_reply_synced_before_its_delivery_result_is_merged(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = store_id()
    await normalizer.on_snapshot(
        snapshot(store, message("m1", 0), message("mk-5", 31, sender=SHOP, body="Wysyłamy jutro."))
    )
    did = snapshot(store).key.discussion_id
    await normalizer.on_delivery(delivery(store, did, DeliveryState.SENT, mid="mk-5"))
    outbound = (
        await mongo_db[MESSAGES].find({"discussion_id": did, "direction": "outbound"}).to_list()
    )
    assert len(outbound) == 1 and outbound[0]["command_id"] == "cmd-0001"


async def test_a_delivery_for_an_unknown_discussion_is_refused(normalizer: Normalizer) -> None:
    with pytest.raises(UnknownDiscussion):
        await normalizer.on_delivery(delivery(store_id(), "nope", DeliveryState.SENT))


async def test_a_parked_reply_shows_its_attempts_and_next_attempt_then_the_final_count(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = store_id()
    snap = snapshot(store, message("m1", 0))
    await normalizer.on_snapshot(snap)
    did = snap.key.discussion_id
    due = T0 + timedelta(minutes=45)
    for attempts in (1, 2):  # parked twice, each pass counted
        parked = delivery(store, did, DeliveryState.QUEUED).model_copy(
            update={"attempts": attempts, "next_attempt_at": due}
        )
        await normalizer.on_delivery(parked)

    async def shown() -> DeliveryOut:
        doc = await mongo_db[MESSAGES].find_one({"discussion_id": did, "direction": "outbound"})
        assert doc is not None
        info = MessageDocument.model_validate(doc).delivery
        assert info is not None
        return DeliveryOut.of(info)

    out = await shown()
    assert (out.state, out.attempts) == ("queued", 2)
    assert out.next_attempt_at is not None
    assert out.next_attempt_at.replace(tzinfo=UTC) == due
    failed = delivery(store, did, DeliveryState.FAILED).model_copy(
        update={"attempts": 5, "error": "gave up after 5 attempts: HTTP 503"}
    )
    await normalizer.on_delivery(failed)
    out = await shown()
    assert (out.state, out.attempts, out.next_attempt_at) == ("failed", 5, None)


async def test_a_discussion_stored_before_the_bookkeeping_is_migrated_on_its_next_record(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    """As the per-record normalizer left it: no message_ids, our reply already synced
    back under its marketplace id; the next snapshot adds only what is new."""
    store = store_id()
    await normalizer.on_snapshot(snapshot(store, message("m1", 0)))
    did = snapshot(store).key.discussion_id
    await normalizer.on_delivery(delivery(store, did, DeliveryState.SENT, mid="mk-7"))
    await mongo_db[DISCUSSIONS].update_one(
        {"_id": did},
        {"$unset": {"message_ids": "", "folded_message_ids": "", "last_message_id": ""}},
    )

    await normalizer.on_snapshot(
        snapshot(
            store,
            message("m1", 0),
            message("mk-7", 31, sender=SHOP, body="Wysyłamy jutro."),
            message("m3", 40, body="Dziękuję"),
        )
    )

    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None
    stored = await mongo_db[MESSAGES].count_documents({"discussion_id": did})
    assert stored == 3 == doc["message_count"] == len(doc["message_ids"])
    assert doc["last_message_preview"] == "Dziękuję"
