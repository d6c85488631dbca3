"""The responder's batched acceptance (``MongoDeliveryQueue.add_new``) on the real server.

A batch of first rounds is written with two unordered inserts; what it stores must be
what accepting each command alone (``add``) stores, and a delivery that exists
already (a redelivered command, settled or not) must be left exactly as it is: its
state is what keeps a reply from being sent twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_responder.adapters.mongo_deliveries import (
    DELIVERY_QUEUE,
    MongoDeliveryQueue,
    MongoDeliveryStore,
)
from parley_schemas import ParticipantRole, ReplyCommand
from parley_store import DELIVERIES

VOLATILE = ("_id", "created_at", "queued_at", "finished_at")


def command(body: str = "Bonjour") -> ReplyCommand:
    return ReplyCommand(
        command_id=f"cmd-{uuid.uuid4().hex}",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body=body,
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="agent@shop.example",
        requested_at=datetime(2026, 5, 1, tzinfo=UTC),
    )


def stable(doc: dict[str, Any] | None) -> dict[str, Any]:
    """The document less its id and times, a null field as an absent one (readers
    take both as None; FerretDB v1 leaves out the nulls of an upsert's $setOnInsert)."""
    assert doc is not None
    return {k: v for k, v in doc.items() if k not in VOLATILE and v is not None}


async def test_a_batch_stores_what_accepting_each_command_alone_stores(
    mongo_db: AsyncDatabase[Any],
) -> None:
    queue = MongoDeliveryQueue(mongo_db)
    alone, batched = command(), command()

    await queue.add(alone)
    await queue.add_new([batched])

    deliveries, entries = mongo_db[DELIVERIES], mongo_db[DELIVERY_QUEUE]
    by_add = stable(await deliveries.find_one({"_id": alone.command_id}))
    by_batch = stable(await deliveries.find_one({"_id": batched.command_id}))
    by_add["command"].pop("command_id")
    by_batch["command"].pop("command_id")
    assert by_batch == by_add
    assert by_batch["state"] == "queued" and by_batch["attempts"] == 0
    entry = await entries.find_one({"_id": batched.command_id})
    assert entry is not None and entry["command"]["command_id"] == batched.command_id
    assert entry["queued_at"] is not None
    assert {c.command_id for c in await queue.pending()} == {
        alone.command_id,
        batched.command_id,
    }


async def test_a_batch_leaves_existing_deliveries_as_they_are_and_queues_each_once(
    mongo_db: AsyncDatabase[Any],
) -> None:
    queue, store = MongoDeliveryQueue(mongo_db), MongoDeliveryStore(db=mongo_db)
    sent, queued, new = command("sent"), command("queued"), command("new")
    await queue.add(sent)
    await store.mark_sent(sent.command_id, "mk-1")
    await queue.remove(sent)
    await queue.add(queued)
    before = await mongo_db[DELIVERIES].find_one({"_id": sent.command_id})

    await queue.add_new([sent, queued, new])  # redelivered with a new one
    await queue.add_new([new])  # and the whole batch again

    after = await mongo_db[DELIVERIES].find_one({"_id": sent.command_id})
    assert after == before, "a sent delivery is untouched: it is announced, never re-sent"
    assert await mongo_db[DELIVERIES].count_documents({}) == 3
    assert await mongo_db[DELIVERY_QUEUE].count_documents({}) == 3
    assert sorted(c.body for c in await queue.pending()) == ["new", "queued", "sent"]
