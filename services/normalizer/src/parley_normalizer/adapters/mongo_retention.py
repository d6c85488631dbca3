"""MongoDB adapter of :class:`~parley_normalizer.ports.RetentionStore`.

Deleting a discussion takes three steps, none of them a transaction (FerretDB has
none): its messages (once it is checked to be still expired with the status that was
reviewed), then the discussion itself under that same condition, then any message
that arrived in between. A crash after the
first step leaves an expired discussion that the next sweep finishes; it never leaves
messages behind a deleted discussion, which would outlive their retention unseen. If
the discussion comes back to life in the instant between the first two steps (a new
message, a status change), it is kept and only the history that was already due for
deletion is gone.

Pages are read by ``_id`` ranges, so the sweep terminates even while the documents it
walks change under it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from parley_normalizer.domain.retention import Retention
from parley_store import DISCUSSIONS, MESSAGES, DiscussionDocument, DiscussionStatus

from .mongo_store import write_retention


class MongoRetentionStore:
    def __init__(self, db: AsyncDatabase[Any], page_size: int = 200) -> None:
        self._discussions = db[DISCUSSIONS]
        self._messages = db[MESSAGES]
        self._page_size = page_size

    def unreviewed(self, status: DiscussionStatus) -> AsyncIterator[list[DiscussionDocument]]:
        """Discussions with this status that retention has not seen with it (changed by
        the gateway since, or stored before retention existed)."""
        return self._pages({"status": status.value, "retention_status": {"$ne": status.value}})

    def expired(self, now: datetime) -> AsyncIterator[list[DiscussionDocument]]:
        return self._pages({"expires_at": {"$lte": now}})

    async def set_retention(self, discussion_id: str, retention: Retention) -> None:
        await write_retention(self._discussions, discussion_id, retention)

    async def purge(self, discussion_id: str, status: DiscussionStatus, now: datetime) -> bool:
        still_expired = {"_id": discussion_id, "status": status.value, "expires_at": {"$lte": now}}
        if await self._discussions.count_documents(still_expired, limit=1) == 0:
            return False
        await self._messages.delete_many({"discussion_id": discussion_id})
        result = await self._discussions.delete_one(still_expired)
        if not result.deleted_count:
            return False
        await self._messages.delete_many({"discussion_id": discussion_id})
        return True

    async def _pages(self, query: dict[str, Any]) -> AsyncIterator[list[DiscussionDocument]]:
        after: str | None = None
        while True:
            page_query = query if after is None else {"$and": [query, {"_id": {"$gt": after}}]}
            docs = (
                await self._discussions.find(page_query)
                .sort("_id", ASCENDING)
                .limit(self._page_size)
                .to_list()
            )
            if not docs:
                return
            after = docs[-1]["_id"]
            yield [DiscussionDocument.model_validate(doc) for doc in docs]
