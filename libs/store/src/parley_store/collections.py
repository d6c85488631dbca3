"""Collection names and the indexes that back every list filter.

FerretDB v1 (the local stack) supports plain, compound and unique indexes but not
TTL or partial indexes, so only those are used here.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

DISCUSSIONS = "discussions"
MESSAGES = "messages"
DELIVERIES = "deliveries"
SYNC_CURSORS = "sync_cursors"

_INDEXES: dict[str, list[IndexModel]] = {
    DISCUSSIONS: [
        IndexModel([("key", ASCENDING)], unique=True, name="key_unique"),
        IndexModel(
            [("store_id", ASCENDING), ("last_message_at", DESCENDING), ("_id", DESCENDING)],
            name="store_last_message",
        ),
        IndexModel([("store_id", ASCENDING), ("marketplace", ASCENDING)], name="store_marketplace"),
        IndexModel([("store_id", ASCENDING), ("status", ASCENDING)], name="store_status"),
        IndexModel([("store_id", ASCENDING), ("read", ASCENDING)], name="store_read"),
        IndexModel([("store_id", ASCENDING), ("type", ASCENDING)], name="store_type"),
        IndexModel([("store_id", ASCENDING), ("order_id", ASCENDING)], name="store_order"),
    ],
    MESSAGES: [
        IndexModel([("discussion_id", ASCENDING), ("sent_at", ASCENDING)], name="discussion_time"),
        IndexModel(
            [("discussion_id", ASCENDING), ("marketplace_message_id", ASCENDING)],
            name="discussion_marketplace_message",
        ),
        IndexModel([("command_id", ASCENDING)], name="command"),
        IndexModel(
            [("discussion_id", ASCENDING), ("event_pending", ASCENDING)], name="event_pending"
        ),
    ],
    DELIVERIES: [IndexModel([("state", ASCENDING)], name="state")],
}


async def ensure_indexes(db: AsyncDatabase[Any]) -> None:
    """Idempotent; every service that reads or writes a collection calls it at start-up."""
    for collection, indexes in _INDEXES.items():
        await create_missing_indexes(db, collection, indexes)


async def create_missing_indexes(
    db: AsyncDatabase[Any], collection: str, indexes: list[IndexModel]
) -> None:
    """Creates only the indexes that do not exist yet, by name.

    Re-issuing ``createIndexes`` for existing indexes is a no-op on MongoDB but makes
    FerretDB v1.24 drop the connection, so existing names are skipped.
    """
    existing = set(await db[collection].index_information())
    missing = [ix for ix in indexes if ix.document["name"] not in existing]
    if missing:
        await db[collection].create_indexes(missing)
