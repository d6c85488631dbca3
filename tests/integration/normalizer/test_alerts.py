"""Order alerts (F9) on the real server and broker: a tagged draft discussion, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from support.kafka import TopicProbe, envelopes_of

from parley_normalizer.handlers import Normalizer
from parley_schemas import (
    CONVERSATION_EVENTS,
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    OrderAlert,
    OrderAlertKind,
    Participant,
    ParticipantRole,
)
from parley_store import CUSTOMERS, DISCUSSIONS, MESSAGES, customer_id_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Ewa", marketplace_id="buyer-5")


def alert(store: str, kind: OrderAlertKind, comment: str | None = None) -> OrderAlert:
    return OrderAlert(
        store_id=store,
        marketplace="allegro-pl",
        family="allegro",
        kind=kind,
        order_id="ord-881",
        buyer=BUYER,
        rating=1 if comment is not None or "rating" in kind.value else None,
        rating_max=5,
        comment=comment,
        occurred_at=T0,
    )


def new_store() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


async def test_a_bad_rating_opens_a_tagged_draft_with_the_comment_and_events(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = new_store()
    a = alert(store, OrderAlertKind.BAD_RATING_WITH_COMMENT, "Towar niezgodny z opisem")
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_alert(a)
        records = await probe.wait_for(lambda r: r.key == str(a.key).encode(), count=2)

    doc = await mongo_db[DISCUSSIONS].find_one({"_id": a.key.discussion_id})
    assert doc is not None
    assert doc["key"] == f"{store}:allegro-pl:alert-ord-881-bad_rating_with_comment"
    assert (doc["status"], doc["read"], doc["type"]) == ("new", False, "order")
    assert doc["tags"] == ["alert:bad-rating-with-comment"]
    assert doc["draft"] is True and doc["alert_kind"] == "bad_rating_with_comment"
    assert doc["initiator"] == "operator" and doc["order_id"] == "ord-881"
    assert doc["subject"].startswith("Bad rating with a comment — order ord-881")
    assert doc["message_count"] == 1 and doc["last_message_preview"] == "Towar niezgodny z opisem"
    assert doc["customer_id"] == customer_id_for(store, "allegro-pl", "buyer-5")
    assert doc["expires_at"] is not None
    (message,) = await mongo_db[MESSAGES].find({"discussion_id": doc["_id"]}).to_list()
    assert message["direction"] == "inbound" and message["sender"]["role"] == "customer"

    (created,) = envelopes_of(records, DISCUSSION_CREATED.name)
    assert created.data.tags == ["alert:bad-rating-with-comment"]
    assert created.data.type == "order" and created.data.channel == "alerts"
    assert [e.data.body for e in envelopes_of(records, MESSAGE_RECEIVED.name)] == [
        "Towar niezgodny z opisem"
    ]


async def test_a_replayed_alert_creates_nothing_twice_and_keeps_what_people_changed(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = new_store()
    a = alert(store, OrderAlertKind.BAD_RATING_WITH_COMMENT, "Za długo")
    await normalizer.on_alert(a)
    did = a.key.discussion_id
    await mongo_db[DISCUSSIONS].update_one(
        {"_id": did}, {"$set": {"status": "open", "read": True, "tags": ["vip"]}}
    )
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_alert(a)
        await normalizer.on_alert(a)
        seen = await probe.drain(2.0)

    assert [r for r in seen if r.key == str(a.key).encode()] == []
    assert await mongo_db[DISCUSSIONS].count_documents({"store_id": store}) == 1
    assert await mongo_db[MESSAGES].count_documents({"discussion_id": did}) == 1
    assert await mongo_db[CUSTOMERS].count_documents({"store_id": store}) == 1
    doc = await mongo_db[DISCUSSIONS].find_one({"_id": did})
    assert doc is not None
    assert (doc["status"], doc["read"], doc["tags"]) == ("open", True, ["vip"])


async def test_an_invalid_address_opens_an_empty_draft_per_kind(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any], kafka_bootstrap: str
) -> None:
    store = new_store()
    address = alert(store, OrderAlertKind.ADDRESS_INVALID)
    rating = alert(store, OrderAlertKind.BAD_RATING_WITHOUT_COMMENT)
    async with TopicProbe(kafka_bootstrap, CONVERSATION_EVENTS) as probe:
        await normalizer.on_alert(address)
        await normalizer.on_alert(rating)
        records = await probe.wait_for(
            lambda r: r.key in {str(address.key).encode(), str(rating.key).encode()}, count=2
        )
    assert {e.type for e in (r.envelope() for r in records)} == {DISCUSSION_CREATED.name}

    docs = {d["alert_kind"]: d for d in await mongo_db[DISCUSSIONS].find({}).to_list()}
    assert docs["address_invalid"]["tags"] == ["alert:address-invalid"]
    assert docs["address_invalid"]["subject"] == "Invalid delivery address — order ord-881"
    assert docs["address_invalid"]["message_count"] == 0
    assert docs["bad_rating_without_comment"]["tags"] == ["alert:bad-rating-without-comment"]
    assert await mongo_db[MESSAGES].count_documents({}) == 0
