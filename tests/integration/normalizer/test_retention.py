"""Retention (F7) on the real MongoDB-compatible server: expiry written by the
normalizer, moved by status changes, enforced by the sweep with the messages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.normalizer import RecordingSink
from pymongo.asynchronous.database import AsyncDatabase

from parley_normalizer.handlers import Normalizer
from parley_normalizer.retention import sweep
from parley_schemas import (
    DISCUSSION_DELETED,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DISCUSSIONS, MESSAGES

pytestmark = pytest.mark.integration

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Piotr")


def snapshot(
    store: str, thread: str, *ages: timedelta, family: str = "allegro"
) -> RawThreadSnapshot:
    """A thread whose messages were sent ``ages`` before NOW."""
    return RawThreadSnapshot(
        connection_id="c1",
        store_id=store,
        marketplace=f"{family}-x",
        family=family,
        channel="message_center" if family == "allegro" else "messages",
        thread_id=thread,
        messages=[
            RawMessage(
                marketplace_message_id=f"{thread}-m{i}",
                sender=BUYER,
                body=f"wiadomość {i}",
                sent_at=NOW - age,
            )
            for i, age in enumerate(ages)
        ],
        fetched_at=NOW,
    )


async def discussion(db: AsyncDatabase[Any], snap: RawThreadSnapshot) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db[DISCUSSIONS].find_one({"_id": snap.key.discussion_id})
    return doc


async def messages_of(db: AsyncDatabase[Any], snap: RawThreadSnapshot) -> int:
    return await db[MESSAGES].count_documents({"discussion_id": snap.key.discussion_id})


def new_store() -> str:
    return f"store-{uuid.uuid4().hex[:8]}"


async def test_the_normalizer_writes_the_expiry_and_a_new_message_moves_it(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    await normalizer.on_snapshot(snapshot(store, "t1", 50 * DAY, 20 * DAY))
    doc = await discussion(mongo_db, snapshot(store, "t1"))
    assert doc is not None
    assert doc["expires_at"] == NOW - 20 * DAY + 30 * DAY
    assert doc["retention_status"] == "new"

    await normalizer.on_snapshot(snapshot(store, "t1", 50 * DAY, 20 * DAY, 2 * DAY))
    doc = await discussion(mongo_db, snapshot(store, "t1"))
    assert doc is not None and doc["expires_at"] == NOW - 2 * DAY + 30 * DAY

    mirakl = snapshot(store, "t2", 20 * DAY, family="mirakl")
    await normalizer.on_snapshot(mirakl)
    doc = await discussion(mongo_db, mirakl)
    assert doc is not None and doc["expires_at"] == NOW - 20 * DAY + 365 * DAY


async def test_the_sweep_deletes_an_expired_discussion_with_its_messages_and_keeps_the_rest(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    expired = snapshot(store, "old", 45 * DAY, 31 * DAY)
    fresh = snapshot(store, "fresh", 31 * DAY, 5 * DAY)
    other_family = snapshot(store, "mirakl", 200 * DAY, family="mirakl")
    for snap in (expired, fresh, other_family):
        await normalizer.on_snapshot(snap)

    assert await sweep(mongo_db, NOW) == 1

    assert await discussion(mongo_db, expired) is None
    assert await messages_of(mongo_db, expired) == 0
    assert await discussion(mongo_db, fresh) is not None
    assert await messages_of(mongo_db, fresh) == 2
    assert await discussion(mongo_db, other_family) is not None
    assert await messages_of(mongo_db, other_family) == 1
    assert await sweep(mongo_db, NOW) == 0, "a second pass finds nothing more"


async def test_a_status_change_moves_the_expiry_at_the_next_sweep(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    solved_early = snapshot(store, "solved-early", 2 * DAY)  # would be kept 28 more days
    solved_late = snapshot(store, "solved-late", 25 * DAY)  # would be kept 5 more days
    for snap in (solved_early, solved_late):
        await normalizer.on_snapshot(snap)
    # The gateway solves both (it owns the status and never touches the expiry).
    await mongo_db[DISCUSSIONS].update_many({"store_id": store}, {"$set": {"status": "solved"}})

    assert await sweep(mongo_db, NOW) == 0
    for snap in (solved_early, solved_late):
        doc = await discussion(mongo_db, snap)
        assert doc is not None
        assert doc["retention_status"] == "solved"
        assert doc["retention_status_since"] == NOW
        assert doc["expires_at"] == NOW + 14 * DAY, "14 days once solved, from the change"

    assert await sweep(mongo_db, NOW + 13 * DAY) == 0
    assert await sweep(mongo_db, NOW + 14 * DAY) == 2
    assert await mongo_db[MESSAGES].count_documents({}) == 0


async def test_reopening_gives_the_in_progress_period_again(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    snap = snapshot(store, "t1", 40 * DAY)
    await normalizer.on_snapshot(snap)
    await mongo_db[DISCUSSIONS].update_one(
        {"_id": snap.key.discussion_id}, {"$set": {"status": "open"}}
    )
    # Seen as reopened (open after new) now: 30 days from this change, not from the
    # message 40 days ago.
    assert await sweep(mongo_db, NOW) == 0
    doc = await discussion(mongo_db, snap)
    assert doc is not None and doc["expires_at"] == NOW + 30 * DAY


async def test_a_status_change_the_sweep_has_not_seen_yet_is_reviewed_before_deleting(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    """The stored expiry says "expired", but the discussion was solved since: the
    change restarts the clock, so it is not deleted."""
    store = new_store()
    snap = snapshot(store, "t1", 35 * DAY)
    await normalizer.on_snapshot(snap)
    doc = await discussion(mongo_db, snap)
    assert doc is not None and doc["expires_at"] < NOW
    await mongo_db[DISCUSSIONS].update_one(
        {"_id": snap.key.discussion_id}, {"$set": {"status": "solved"}}
    )
    assert await sweep(mongo_db, NOW) == 0
    assert await messages_of(mongo_db, snap) == 1


async def test_each_deletion_is_announced_once_with_the_discussion_it_removed(
    normalizer: Normalizer, mongo_db: AsyncDatabase[Any]
) -> None:
    store = new_store()
    expired = snapshot(store, "gone", 40 * DAY)
    kept = snapshot(store, "kept", 1 * DAY)
    for snap in (expired, kept):
        await normalizer.on_snapshot(snap)
    sink = RecordingSink()

    await sweep(mongo_db, NOW, sink=sink)
    await sweep(mongo_db, NOW, sink=sink)  # nothing left to delete: nothing announced

    mine = [e for e in sink.events if e.data.store_id == store]
    (event,) = mine
    assert event.type == DISCUSSION_DELETED.name
    assert event.subject == str(expired.key)
    assert event.data.discussion_id == expired.key.discussion_id
    assert event.data.reason == "retention" and event.data.status == "new"
    assert event.data.expired_at == NOW - 40 * DAY + 30 * DAY
    assert await discussion(mongo_db, kept) is not None
